import type { McqaItem } from "../types.js";
import { checkedItem, recordId } from "./item.js";
import { badRecord, isRecord, type LoadContext, type RawRecord } from "./records.js";
import { type TaskSpec, taskOfCorpus } from "./registry.js";

/** BioInstructQA stores one precomputed shot list per seed under these keys (seed s → key s+1). */
const PAPER_SHOT_SETS = 3;

/** Options for reading BioInstructQA records. */
interface BioInstructQaOptions {
	/** Use `question_translated` / `options_translated` / `context_translated` (the translated test splits). */
	translated?: boolean;
}

function optionList(v: unknown): { letter: string; text: unknown }[] | undefined {
	if (!isRecord(v)) return undefined;
	return Object.entries(v).map(([letter, text]) => ({ letter, text }));
}

/** The shot lists of a record: `few_shot_samples[1..3]` keys, or one `few_shot_samples` array of lists. */
function shotLists(rec: Record<string, unknown>): unknown[] | undefined {
	if (Array.isArray(rec.few_shot_samples)) return rec.few_shot_samples as unknown[];
	const lists: unknown[] = [];
	for (let s = 1; s <= PAPER_SHOT_SETS; s++) {
		const v = rec[`few_shot_samples[${s}]`];
		if (v === undefined) break;
		lists.push(v);
	}
	return lists.length > 0 ? lists : undefined;
}

function field(rec: Record<string, unknown>, key: string, translated: boolean): unknown {
	return translated && rec[`${key}_translated`] !== undefined ? rec[`${key}_translated`] : rec[key];
}

/**
 * BioInstructQA records (`overall_test+prompt.json` and the per-language files): `identifier,
 * corpus_name, task_type, classes, question, options {letter: text}, correct_answer_letter, context,
 * few_shot_samples[1..3]`. Only records whose corpus_name is `task`'s are returned. As in the
 * dataset's own prompt builder, a query shows its context only for PubMedQA, a shot whenever its
 * context is not null; shots carry the paper's draws and are used as given.
 */
export function loadBioInstructQa(records: RawRecord[], ctx: LoadContext, task: TaskSpec, opts: BioInstructQaOptions = {}): McqaItem[] {
	const translated = opts.translated ?? false;
	const items: McqaItem[] = [];
	for (const r of records) {
		if (!isRecord(r.value)) {
			badRecord(ctx, r.line, `record ${r.index}: expected a JSON object`);
			continue;
		}
		const rec = r.value;
		if (typeof rec.corpus_name !== "string" || taskOfCorpus(rec.corpus_name) === undefined) {
			badRecord(ctx, r.line, `record ${r.index}: unknown corpus_name ${JSON.stringify(rec.corpus_name)}`);
			continue;
		}
		if (rec.corpus_name !== task.corpusName) continue;
		const id = recordId(rec, r.index);
		const options = optionList(field(rec, "options", translated));
		if (options === undefined) {
			badRecord(ctx, r.line, `record ${id}: "options" must be an object {letter: text}`);
			continue;
		}
		const context = field(rec, "context", translated);
		const fewShot = parseShots(rec, ctx, r.line, task, id);
		if (fewShot === null) continue;
		const item = checkedItem(ctx, r.line, task, {
			id,
			question: field(rec, "question", translated),
			options,
			gold: rec.correct_answer_letter,
			...(task.name === "pubmedqa" && typeof context === "string" ? { context } : {}),
			...(fewShot !== undefined ? { fewShot } : {}),
		});
		if (item !== undefined) items.push(item);
	}
	return items;
}

/** The record's paper shots as items (undefined: none; null: malformed and skipped). */
function parseShots(
	rec: Record<string, unknown>,
	ctx: LoadContext,
	line: number,
	task: TaskSpec,
	id: string,
): McqaItem[][] | undefined | null {
	const lists = shotLists(rec);
	if (lists === undefined) return undefined;
	const out: McqaItem[][] = [];
	for (const [s, list] of lists.entries()) {
		if (!Array.isArray(list)) {
			badRecord(ctx, line, `record ${id}: few_shot_samples[${s + 1}] is not a list`);
			return null;
		}
		const shots: McqaItem[] = [];
		for (const [j, shot] of list.entries()) {
			const options = isRecord(shot) ? optionList(shot.options) : undefined;
			if (!isRecord(shot) || options === undefined) {
				badRecord(ctx, line, `record ${id}: few_shot_samples[${s + 1}][${j}] has no "options" object`);
				return null;
			}
			const shotId = recordId(shot, -1);
			const item = checkedItem(ctx, line, task, {
				id: shotId === "-1" ? `${id}/shot${s + 1}.${j}` : shotId,
				question: shot.question,
				options,
				gold: shot.correct_answer_letter,
				...(typeof shot.context === "string" ? { context: shot.context } : {}),
			});
			if (item === undefined) return null;
			shots.push(item);
		}
		out.push(shots);
	}
	return out;
}
