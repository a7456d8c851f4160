import type { McqaItem, McqaOption } from "../types.js";
import { badRecord, type LoadContext } from "./records.js";
import type { TaskSpec } from "./registry.js";

/** The fields a loader extracted from one record, before validation. */
interface ItemFields {
	id: string;
	question: unknown;
	options: { letter: string; text: unknown }[];
	gold: unknown;
	context?: string;
	contextParts?: string[];
	fewShot?: McqaItem[][];
}

/**
 * Validates one extracted record and returns it as an McqaItem: a non-empty question, exactly the
 * task's number of options with string texts and distinct upper-case letters, and a gold letter
 * among them. Anything else is a bad record (EvaluationError "Data" at file:line unless skipBad).
 */
export function checkedItem(ctx: LoadContext, line: number, task: TaskSpec, f: ItemFields): McqaItem | undefined {
	if (typeof f.question !== "string" || f.question.trim() === "") {
		return badRecord(ctx, line, `record ${f.id}: missing or empty "question"`);
	}
	if (f.options.length !== task.optionCount) {
		const hint = task.name === "medqa" && f.options.length === 5 ? ' (5-option MedQA is task "medqa_5options")' : "";
		return badRecord(ctx, line, `record ${f.id}: ${f.options.length} options, task ${task.name} needs ${task.optionCount}${hint}`);
	}
	const options: McqaOption[] = [];
	for (const o of f.options) {
		const letter = o.letter.toUpperCase();
		if (typeof o.text !== "string") {
			return badRecord(ctx, line, `record ${f.id}: option ${o.letter} is not a string`);
		}
		if (!/^[A-Z]$/.test(letter) || options.some((p) => p.letter === letter)) {
			return badRecord(ctx, line, `record ${f.id}: bad or repeated option letter "${o.letter}"`);
		}
		options.push({ letter, text: o.text });
	}
	const gold = typeof f.gold === "string" ? f.gold.trim().toUpperCase() : undefined;
	if (gold === undefined || !options.some((o) => o.letter === gold)) {
		return badRecord(ctx, line, `record ${f.id}: answer ${JSON.stringify(f.gold)} is not one of ${options.map((o) => o.letter).join("")}`);
	}
	const item: McqaItem = { task: task.name, id: f.id, question: f.question, options, gold, source: { file: ctx.file, line } };
	if (f.context !== undefined) item.context = f.context;
	if (f.contextParts !== undefined) item.contextParts = f.contextParts;
	if (f.fewShot !== undefined) item.fewShot = f.fewShot;
	return item;
}

/** The record's own id (`id`, then `identifier`) as a string, else its 0-based index. */
export function recordId(rec: Record<string, unknown>, index: number): string {
	for (const key of ["id", "identifier"]) {
		const v = rec[key];
		if (typeof v === "string" && v !== "") return v;
		if (typeof v === "number" && Number.isFinite(v)) return String(v);
	}
	return String(index);
}

/** Letters A, B, C… for option index 0, 1, 2… */
export function letterAt(index: number): string {
	return String.fromCharCode(65 + index);
}
