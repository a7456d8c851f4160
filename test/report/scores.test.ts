import { describe, expect, test } from "vitest";
import { expectedCalibrationError } from "../../src/eval/score.js";
import type { ItemReport, TaskReport } from "../../src/eval/types.js";
import { eceFromBins } from "../../src/report/calibration.js";
import { quantizedComparisons, rowsOfReport, taskScores } from "../../src/report/scores.js";
import type { ReportInput } from "../../src/report/types.js";
import { fakeEvalReport } from "../helpers/eval-report.js";

const stat = (perSeed: number[]) => ({ mean: perSeed.reduce((a, b) => a + b, 0) / perSeed.length, std: 0, per_seed: perSeed });
const task = (acc: number, ece = 10): TaskReport => ({
	n: 2,
	acc: stat([acc]),
	acc_letters: stat([acc]),
	non_letter_top1: 0,
	ece,
	ece_per_seed: [ece],
	shot_source: "template",
});
const item = (probs: Record<string, number>, gold: string): ItemReport => ({
	task: "medqa",
	id: "1",
	seed: 0,
	gold,
	shot_ids: [],
	tokens: 10,
	letter_probs: probs,
	top1_id: null,
	top1_text: null,
	correct: false,
	correct_letters: false,
});

function report(over: Partial<ReportInput> = {}): ReportInput {
	const { quantized, ...rest } = over;
	return {
		...fakeEvalReport({ models: ["/m/bio-slerp"], tasks: { medqa: task(50) }, ...rest }),
		...(quantized !== undefined ? { quantized } : {}),
	};
}

describe("taskScores", () => {
	test("reliability bins come from the per-item letter probabilities and give back the report's ECE", () => {
		const items = [item({ A: 0.7, B: 0.1, C: 0.1, D: 0.1 }, "A"), item({ A: 0.3, B: 0.5, C: 0.1, D: 0.1 }, "A")];
		const ece =
			100 *
			expectedCalibrationError(
				items.map((it) => ({ probs: Object.values(it.letter_probs), gold: Object.keys(it.letter_probs).indexOf(it.gold) })),
			);
		const s = taskScores(report({ items, tasks: { medqa: task(50, ece) } })).medqa;
		expect(s?.reliability.map((b) => b.count)).toEqual([0, 0, 1, 1, 0]);
		expect(100 * eceFromBins(s?.reliability ?? [], 2)).toBeCloseTo(s?.ece ?? 0, 10);
	});

	test("an ensemble's summed probabilities are divided by the number of models, as the evaluator's ECE does", () => {
		const items = [item({ A: 1.4, B: 0.2, C: 0.2, D: 0.2 }, "A")];
		const s = taskScores(report({ ensemble: true, models: ["/a", "/b"], items })).medqa;
		expect(s?.reliability[3]).toMatchObject({ count: 1, confidence: 0.7, accuracy: 1 });
	});
});

describe("rowsOfReport", () => {
	test("one row per model, named after its folder; an ensemble gives its members then Ensemble", () => {
		expect(rowsOfReport(report()).map((r) => [r.label, r.kind, r.settings])).toEqual([
			["bio-slerp", "model", "biomistral, 3-shot, seeds 0"],
		]);
		const ens = report({
			ensemble: true,
			models: ["/m/a", "/m/b"],
			members: [
				{ model: "/m/a", tasks: { medqa: task(40) } },
				{ model: "/m/b", tasks: { medqa: task(45) } },
			],
		});
		expect(rowsOfReport(ens).map((r) => [r.label, r.kind, r.tasks.medqa?.acc])).toEqual([
			["a", "model", 40],
			["b", "model", 45],
			["Ensemble", "ensemble", 50],
		]);
	});
});

describe("quantizedComparisons", () => {
	test("from a report's quantized list, with the report itself as the reference", () => {
		const q = quantizedComparisons([
			report({ quant: "f16", quantized: [{ quant: "q8_0", bytes: 7.7e9, tokens_per_second: 20, tasks: { medqa: task(49) } }] }),
		]);
		expect(q).toHaveLength(1);
		expect(q[0]).toMatchObject({
			model: "bio-slerp",
			reference: { label: "f16" },
			variants: [{ label: "q8_0", bytes: 7.7e9, tokensPerSecond: 20 }],
		});
		expect(q[0]?.variants[0]?.tasks.medqa?.acc).toBe(49);
	});

	test("from reports of one model and settings that differ in quant; unrelated reports make none", () => {
		const q = quantizedComparisons([report({ quant: "q4_k_m", tasks: { medqa: task(46) } }), report(), report({ models: ["/m/other"] })]);
		expect(q).toHaveLength(1);
		expect(q[0]?.reference.label).toBe("f32");
		expect(q[0]?.variants.map((v) => v.label)).toEqual(["q4_k_m"]);
		expect(rowsOfReport(report({ backend: "llama", quant: "q4_k_m" }))[0]?.label).toBe("bio-slerp (q4_k_m)");
		expect(quantizedComparisons([report(), report({ models: ["/m/x"] })])).toEqual([]);
	});
});
