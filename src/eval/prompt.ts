import { drawShots, paperShots } from "./tasks/few-shot.js";
import type { TaskData } from "./tasks/load-tasks.js";
import { getTask } from "./tasks/registry.js";
import type { Tokenizer } from "./tokenizer.js";
import type { EvalMode, McqaItem } from "./types.js";

/** The BioMistral instruction line, once per prompt; note the trailing " \n " (spaces around "\n"). */
export const BIOMISTRAL_HEADER = "The following are multiple choice questions (with answers) about medical knowledge. \n ";

/** Separator between items and inside an item (BioMistral puts a space on both sides of every "\n"). */
const SEP = " \n ";

/**
 * One item in the BioMistral template:
 * `{context \n }**Question:** {question} \n (A) {a} \n (B) {b} … \n **Answer:**({letter}` — the
 * letter is the gold one for a shot and empty for the query, so a prompt ends in `**Answer:**(`.
 */
export function formatBiomistralItem(item: McqaItem, answerLetter: string): string {
	const context = item.context !== undefined ? item.context + SEP : "";
	const options = item.options.map((o) => `(${o.letter}) ${o.text}`).join(SEP);
	return `${context}**Question:** ${item.question}${SEP}${options}${SEP}**Answer:**(${answerLetter}`;
}

/** A k-shot BioMistral prompt: header + shots (joined by " \n ") + " \n " + the query item. */
export function biomistralPrompt(query: McqaItem, shots: readonly McqaItem[]): string {
	const prefix = shots.length > 0 ? shots.map((s) => formatBiomistralItem(s, s.gold)).join(SEP) + SEP : "";
	return BIOMISTRAL_HEADER + prefix + formatBiomistralItem(query, "");
}

/** lm-evaluation-harness joins few-shot examples with a blank line. */
const HARNESS_FEWSHOT_DELIMITER = "\n\n";

/** lm-evaluation-harness puts one space between the prompt and each choice. */
const HARNESS_TARGET_DELIMITER = " ";

/** A harness-mode request: the context, the choice strings (each scored as " " + choice), the gold index. */
export interface HarnessPrompt {
	context: string;
	choices: string[];
	goldIndex: number;
}

function lettered(item: McqaItem): string {
	return item.options.map((o) => `${o.letter}. ${o.text}\n`).join("");
}

/** The harness `doc_to_text` of the task's family (medqa_4options, medmcqa, pubmed_qa, mmlu_*). */
function harnessDocText(item: McqaItem): string {
	switch (getTask(item.task).harness) {
		case "mmlu":
			return `${item.question.trim()}\n${lettered(item)}Answer:`;
		case "medqa":
			return `Question: ${item.question}\n${lettered(item)}Answer:`;
		case "medmcqa":
			return `Question: ${item.question}\nChoices:\n${lettered(item)}Answer:`;
		case "pubmedqa":
			return `Abstract: ${item.contextParts?.join("\n") ?? item.context ?? ""}\nQuestion: ${item.question}\nAnswer:`;
	}
}

/** The harness choices: the option texts for PubMedQA (yes/no/maybe), the letters otherwise. */
function harnessChoices(item: McqaItem): string[] {
	return getTask(item.task).harness === "pubmedqa" ? item.options.map((o) => o.text) : item.options.map((o) => o.letter);
}

/** MMLU's task description line; the medical tasks have none. */
function harnessDescription(item: McqaItem): string {
	const subject = getTask(item.task).mmluSubject;
	return subject === undefined
		? ""
		: `The following are multiple choice questions (with answers) about ${subject.replaceAll("_", " ")}.\n\n`;
}

/** A harness prompt: description + shots ("text answer", blank-line separated) + the query's text. */
export function harnessPrompt(query: McqaItem, shots: readonly McqaItem[] = []): HarnessPrompt {
	const shotText = shots.map((s) => {
		const choice = harnessChoices(s)[s.options.findIndex((o) => o.letter === s.gold)] ?? s.gold;
		return harnessDocText(s) + HARNESS_TARGET_DELIMITER + choice + HARNESS_FEWSHOT_DELIMITER;
	});
	return {
		context: harnessDescription(query) + shotText.join("") + harnessDocText(query),
		choices: harnessChoices(query),
		goldIndex: query.options.findIndex((o) => o.letter === query.gold),
	};
}

/** One prompt to score: an item under one seed, its shots and its text. */
export interface PlannedPrompt {
	item: McqaItem;
	seed: number;
	shotIds: string[];
	prompt: string;
	harness?: HarnessPrompt;
}

/** Shots and prompt text for every (task, seed, item); independent of the model. */
export function planPrompts(tasks: TaskData[], seeds: number[], shots: number, mode: EvalMode): PlannedPrompt[] {
	const out: PlannedPrompt[] = [];
	for (const t of tasks) {
		for (const seed of seeds) {
			for (const item of t.items) {
				let drawn: McqaItem[] = [];
				if (t.shotSource === "paper") drawn = paperShots(item, seed);
				else if (t.shotSource === "template") drawn = drawShots(item, t.pool ?? [], shots, seed, t.poolIsEvalFile);
				const shotIds = drawn.map((s) => s.id);
				if (mode === "harness") {
					const harness = harnessPrompt(item, drawn);
					out.push({ item, seed, shotIds, prompt: harness.context, harness });
				} else {
					out.push({ item, seed, shotIds, prompt: biomistralPrompt(item, drawn) });
				}
			}
		}
	}
	return out;
}

/** Splits the ids of `context + continuation` the way lm-evaluation-harness does (trailing spaces move right). */
export function harnessRequest(
	tok: Tokenizer,
	context: string,
	continuation: string,
	addBos: boolean,
): { context: number[]; continuation: number[] } {
	const spaces = context.length - context.trimEnd().length;
	const ctxText = context.slice(0, context.length - spaces);
	const contText = context.slice(context.length - spaces) + continuation;
	const ctx = tok.encode(ctxText, { addBos });
	const whole = tok.encode(ctxText + contText, { addBos });
	const prefixOk = ctx.every((id, i) => whole[i] === id) && whole.length > ctx.length;
	return { context: ctx, continuation: prefixOk ? whole.slice(ctx.length) : tok.encode(contText, { addBos: false }) };
}
