import path from "node:path";
import type { ItemReport, TaskName, TaskReport } from "../eval/types.js";
import { reliabilityBins } from "./calibration.js";
import type { QuantizedComparison, ReportInput, ReportRow, TaskScore, TaskScores } from "./types.js";

/** A TaskReport's figures as a TaskScore; `items` (this task's records) give the reliability bins. */
function toTaskScore(r: TaskReport, items: readonly ItemReport[] = [], probScale = 1): TaskScore {
	const score: TaskScore = {
		n: r.n,
		acc: r.acc.mean,
		acc_std: r.acc.std,
		acc_per_seed: r.acc.per_seed,
		acc_letters: r.acc_letters.mean,
		ece: r.ece,
		reliability: [],
	};
	if (r.acc_norm !== undefined) score.acc_norm = r.acc_norm.mean;
	if (items.length > 0) {
		score.reliability = reliabilityBins(
			items.map((it) => {
				const letters = Object.keys(it.letter_probs);
				return { probs: letters.map((l) => (it.letter_probs[l] ?? 0) * probScale), gold: letters.indexOf(it.gold) };
			}),
		);
	}
	return score;
}

/** Every task of a report as TaskScores, with reliability bins from its per-item records when it kept them. */
export function taskScores(report: ReportInput): TaskScores {
	const scale = report.ensemble ? 1 / Math.max(1, report.models.length) : 1;
	const out: TaskScores = {};
	for (const [task, r] of Object.entries(report.tasks) as [TaskName, TaskReport][]) {
		out[task] = toTaskScore(
			r,
			report.items.filter((it) => it.task === task),
			scale,
		);
	}
	return out;
}

function plainScores(tasks: Partial<Record<TaskName, TaskReport>>): TaskScores {
	const out: TaskScores = {};
	for (const [task, r] of Object.entries(tasks) as [TaskName, TaskReport][]) out[task] = toTaskScore(r);
	return out;
}

/** "biomistral, 3-shot, seeds 0,1,2" */
export function settingsOf(report: Pick<ReportInput, "mode" | "shots" | "seeds">): string {
	return `${report.mode}, ${report.shots}-shot, seeds ${report.seeds.join(",")}`;
}

/** The rows of one evaluation report: the model (or each ensemble member, then "Ensemble"). */
export function rowsOfReport(report: ReportInput): ReportRow[] {
	const settings = settingsOf(report);
	const extra = {
		settings,
		...(report.backend !== undefined ? { backend: report.backend } : {}),
		...(report.quant !== undefined ? { quant: report.quant } : {}),
	};
	if (report.ensemble) {
		const members: ReportRow[] = (report.members ?? []).map((m) => ({
			label: path.basename(m.model),
			kind: "model",
			tasks: plainScores(m.tasks),
			...extra,
		}));
		return [...members, { label: "Ensemble", kind: "ensemble", tasks: taskScores(report), ...extra }];
	}
	const name = report.models.map((m) => path.basename(m)).join(" + ");
	// tfjs always scores the checkpoint as float32: only other backends' weight formats tell rows apart.
	return [
		{
			label: report.quant !== undefined && report.backend !== "tfjs" ? `${name} (${report.quant})` : name,
			kind: "model",
			tasks: taskScores(report),
			...extra,
		},
	];
}

/**
 * The quantized-variant comparisons a set of reports holds: a report's own `quantized` list (its
 * scores are the reference), and reports of one model that differ only in `quant` (the exact one,
 * f32 or float32 or without `quant`, else the first, is the reference).
 */
export function quantizedComparisons(reports: readonly ReportInput[]): QuantizedComparison[] {
	const out: QuantizedComparison[] = [];
	for (const r of reports) {
		if (r.quantized === undefined || r.quantized.length === 0) continue;
		const model = r.models.map((m) => path.basename(m)).join(" + ");
		out.push({
			model,
			reference: { label: r.quant ?? "reference", tasks: taskScores(r) },
			variants: r.quantized.map((v) => ({
				label: v.quant,
				tasks: plainScores(v.tasks),
				...(v.bytes !== undefined ? { bytes: v.bytes } : {}),
				...(v.tokens_per_second !== undefined ? { tokensPerSecond: v.tokens_per_second } : {}),
				...(v.seconds !== undefined ? { seconds: v.seconds } : {}),
			})),
		});
	}
	const byModel = new Map<string, ReportInput[]>();
	for (const r of reports) {
		if (r.ensemble || r.quantized !== undefined) continue;
		const key = `${r.models.join("\0")}\0${settingsOf(r)}`;
		byModel.set(key, [...(byModel.get(key) ?? []), r]);
	}
	for (const group of byModel.values()) {
		// Weight formats of one model side by side (`merge eval --quant f32,q8_0,...` writes one report per format).
		if (new Set(group.map((r) => r.quant)).size < 2) continue;
		const ref = group.find((r) => r.quant === undefined || r.quant === "f32" || r.quant === "float32") ?? (group[0] as ReportInput);
		out.push({
			model: ref.models.map((m) => path.basename(m)).join(" + "),
			reference: { label: ref.quant ?? "reference", tasks: taskScores(ref) },
			variants: group
				.filter((r) => r !== ref)
				.map((r) => {
					const run = r.runs?.[0];
					return {
						label: r.quant ?? "?",
						tasks: taskScores(r),
						...(run !== undefined
							? { bytes: run.weight_bytes, tokensPerSecond: run.timings.tokens_per_second, seconds: run.timings.score_seconds }
							: {}),
					};
				}),
		});
	}
	return out;
}
