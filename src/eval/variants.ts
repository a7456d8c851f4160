import { meanStd } from "./score.js";
import { getTask, TASK_NAMES } from "./tasks/registry.js";
import type { EvalReport, ItemReport, LetterDeviation, TaskName } from "./types.js";

export type { LetterDeviation };

/**
 * The paper's Table 4 for any set of weight formats: the same model scored as several GGUF variants, one row
 * each, and how far each variant's letter probabilities move from the exact (f32) run on the same prompts.
 */

function key(i: ItemReport): string {
	return `${i.task}\u0000${i.id}\u0000${i.seed}`;
}

function argmax(probs: Record<string, number>): string {
	let best = "";
	let bestP = -Infinity;
	for (const [l, p] of Object.entries(probs)) {
		if (p > bestP) {
			bestP = p;
			best = l;
		}
	}
	return best;
}

/** Compares a variant's items with the reference's (matched by task, id and seed). */
export function letterDeviation(variant: EvalReport, reference: EvalReport): LetterDeviation {
	const ref = new Map(reference.items.map((i) => [key(i), i]));
	let prompts = 0;
	let letters = 0;
	let sum = 0;
	let max = 0;
	let same = 0;
	for (const item of variant.items) {
		const r = ref.get(key(item));
		if (r === undefined) continue;
		prompts++;
		for (const [l, p] of Object.entries(item.letter_probs)) {
			const d = Math.abs(p - (r.letter_probs[l] ?? 0));
			sum += d;
			max = Math.max(max, d);
			letters++;
		}
		if (argmax(item.letter_probs) === argmax(r.letter_probs)) same++;
	}
	return { prompts, max_abs: max, mean_abs: letters > 0 ? sum / letters : 0, same_argmax: prompts > 0 ? same / prompts : 0 };
}

function formatSize(bytes: number): string {
	const units = ["B", "KB", "MB", "GB", "TB"];
	let v = bytes;
	let u = 0;
	while (v >= 1000 && u < units.length - 1) {
		v /= 1000;
		u++;
	}
	return `${v.toFixed(u === 0 ? 0 : v >= 100 ? 0 : 1)} ${units[u]}`;
}

/**
 * Markdown: one row per variant (accuracy per task and their average, mean ECE, file size, prompt tokens/s,
 * letter-probability deviation from `reference`), tasks in the paper's column order.
 */
export function renderVariantTable(reports: readonly EvalReport[], reference: EvalReport | undefined): string {
	const tasks = TASK_NAMES.filter((t) => reports.some((r) => r.tasks[t] !== undefined));
	const header = [
		"Variant",
		...tasks.map((t) => getTask(t).label),
		...(tasks.length > 1 ? ["Avg"] : []),
		"ECE",
		"File",
		"tok/s",
		"max \\|Δp\\|",
		"mean \\|Δp\\|",
		"same top letter",
	];
	const rows = reports.map((r) => {
		const accs = tasks.map((t: TaskName) => r.tasks[t]?.acc.mean);
		const present = accs.filter((a): a is number => a !== undefined);
		const ece = meanStd(tasks.flatMap((t) => (r.tasks[t] !== undefined ? [r.tasks[t].ece] : []))).mean;
		const run = r.runs[0];
		const dev = reference !== undefined && reference !== r ? letterDeviation(r, reference) : undefined;
		const label = `${r.quant}${reference === r ? " (exact)" : ""}`;
		return [
			label,
			...accs.map((a) => (a === undefined ? "–" : a.toFixed(1))),
			...(tasks.length > 1 ? [meanStd(present).mean.toFixed(1)] : []),
			ece.toFixed(1),
			run !== undefined ? formatSize(run.weight_bytes) : "–",
			run !== undefined ? run.timings.tokens_per_second.toFixed(0) : "–",
			dev !== undefined ? dev.max_abs.toExponential(1) : "–",
			dev !== undefined ? dev.mean_abs.toExponential(1) : "–",
			dev !== undefined ? `${(100 * dev.same_argmax).toFixed(1)}%` : "–",
		];
	});
	const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
	const name = reports[0]?.model_names.join(" + ") ?? "";
	return [
		`**${name}: weight formats side by side (accuracy %, ECE %, letter-probability deviation from the exact run)**`,
		"",
		line(header),
		line(header.map(() => "---")),
		...rows.map(line),
		"",
	].join("\n");
}
