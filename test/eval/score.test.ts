import { describe, expect, test } from "vitest";
import {
	argmaxLetter,
	ECE_BINS,
	expectedCalibrationError,
	harnessPredictions,
	meanStd,
	scoreLogits,
	softmax,
	sumLetterProbs,
} from "../../src/eval/score.js";

describe("softmax and letter probabilities", () => {
	test("softmax in float64, stable for large logits", () => {
		const p = softmax([0, Math.log(3)]);
		expect(p[0]).toBeCloseTo(0.25, 12);
		expect(p[1]).toBeCloseTo(0.75, 12);
		const big = softmax([1000, 1000 + Math.log(3)]);
		expect(big[1]).toBeCloseTo(0.75, 12);
	});

	test("letter probability = max over the letter's ids of the full-vocabulary softmax", () => {
		// exp: [1, 1, 2, 1, 4, 1], sum 10
		const logits = Float32Array.from([0, 0, Math.log(2), 0, Math.log(4), 0]);
		const s = scoreLogits(logits, { A: [2, 5], B: [4], C: [], D: [99] }, ["A", "B", "C", "D"]);
		expect(s.letterProbs.A).toBeCloseTo(0.2, 6);
		expect(s.letterProbs.B).toBeCloseTo(0.4, 6);
		expect(s.letterProbs.C).toBe(0);
		expect(s.letterProbs.D).toBe(0); // id past the vocabulary
		expect(s.top1Id).toBe(4);
	});

	test("top-1 takes the first index on ties; NaN logits are kind Backend", () => {
		expect(scoreLogits(Float32Array.from([1, 3, 3]), {}, []).top1Id).toBe(1);
		expect(() => scoreLogits(Float32Array.from([1, Number.NaN]), {}, [])).toThrow(expect.objectContaining({ kind: "Backend" }));
	});

	test("argmaxLetter: first letter on ties", () => {
		expect(argmaxLetter({ A: 0.2, B: 0.5, C: 0.5 }, ["A", "B", "C"])).toBe("B");
		expect(argmaxLetter({ A: 0, B: 0 }, ["A", "B"])).toBe("A");
	});

	test("ensemble sums probabilities without renormalising", () => {
		expect(
			sumLetterProbs([
				{ A: 0.5, B: 0.25 },
				{ A: 0.125, B: 0.5 },
			]),
		).toEqual({ A: 0.625, B: 0.75 });
	});
});

describe("ECE (5 bins over (0, 1], the paper's script)", () => {
	test("hand-computed example", () => {
		const samples = [
			{ probs: [0.9, 0.05, 0.05], gold: 0 }, // (0.8, 1]: right
			{ probs: [0.7, 0.2, 0.1], gold: 1 }, // (0.6, 0.8]: wrong
			{ probs: [0.3, 0.5, 0.2], gold: 1 }, // (0.4, 0.6]: right
			{ probs: [0.1, 0.1, 0.85], gold: 2 }, // (0.8, 1]: right
			{ probs: [0, 0, 0], gold: 0 }, // confidence 0: in no bin, still counted in N
		];
		// |0.875 - 1| * 2/5 + |0.7 - 0| * 1/5 + |0.5 - 1| * 1/5 = 0.05 + 0.14 + 0.1
		expect(expectedCalibrationError(samples)).toBeCloseTo(0.29, 12);
		expect(ECE_BINS).toBe(5);
	});

	test("bins are (lower, upper] with numpy.linspace edges (0.6 falls in the third bin)", () => {
		const samples = [
			{ probs: [0.6, 0.4], gold: 0 },
			{ probs: [0.65, 0.35], gold: 1 },
		];
		// 0.6 alone in (0.4, 0.6]: 0.4 * 1/2; 0.65 alone in (0.6, 0.8]: 0.65 * 1/2
		expect(expectedCalibrationError(samples)).toBeCloseTo(0.525, 12);
		expect(expectedCalibrationError([{ probs: [0.2, 0.1], gold: 0 }])).toBeCloseTo(0.8, 12);
	});

	test("perfectly calibrated and empty inputs give 0", () => {
		expect(expectedCalibrationError([{ probs: [1, 0], gold: 0 }])).toBe(0);
		expect(expectedCalibrationError([])).toBe(0);
	});
});

describe("statistics and harness predictions", () => {
	test("population standard deviation", () => {
		const { mean, std } = meanStd([40, 50, 60]);
		expect(mean).toBe(50);
		expect(std).toBeCloseTo(Math.sqrt(200 / 3), 12);
		expect(meanStd([7])).toEqual({ mean: 7, std: 0 });
	});

	test("acc picks the best log-likelihood, acc_norm the best per byte of the choice", () => {
		// per byte: -1/3, -2/2, -1.5/5 = -0.3 (best)
		expect(harnessPredictions([-1, -2, -1.5], ["yes", "no", "maybe"])).toEqual({ pred: 0, predNorm: 2 });
		expect(harnessPredictions([-3, -1, -2, -4], ["A", "B", "C", "D"])).toEqual({ pred: 1, predNorm: 1 });
	});
});
