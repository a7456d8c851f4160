import seedrandom from "seedrandom";
import { describe, expect, test } from "vitest";
import { type CalibrationSample, expectedCalibrationError } from "../../src/eval/score.js";
import { eceFromBins, reliabilityBins } from "../../src/report/calibration.js";

describe("reliabilityBins", () => {
	test("hand-computed bins: confidence = largest letter probability, bins (lower, upper]", () => {
		const samples: CalibrationSample[] = [
			{ probs: [0.9, 0.05, 0.05], gold: 0 }, // 0.9 → bin 5, right
			{ probs: [0.1, 0.85, 0.05], gold: 0 }, // 0.85 → bin 5, wrong
			{ probs: [0.5, 0.3, 0.2], gold: 0 }, // 0.5 → bin 3, right
			{ probs: [0.4, 0.4, 0.2], gold: 1 }, // 0.4 → bin 2 (upper edge), first letter on ties: wrong
			{ probs: [0, 0, 0], gold: 0 }, // confidence 0: no bin
		];
		const bins = reliabilityBins(samples);
		expect(bins.map((b) => [b.lower, b.upper])).toEqual([
			[0, 0.2],
			[0.2, 0.4],
			[0.4, 0.6000000000000001],
			[0.6000000000000001, 0.8],
			[0.8, 1],
		]);
		expect(bins.map((b) => b.count)).toEqual([0, 1, 1, 0, 2]);
		expect(bins[1]).toMatchObject({ confidence: 0.4, accuracy: 0 });
		expect(bins[2]).toMatchObject({ confidence: 0.5, accuracy: 1 });
		expect(bins[4]?.confidence).toBeCloseTo(0.875, 12);
		expect(bins[4]?.accuracy).toBe(0.5);
	});

	test("the bins give back the evaluator's ECE on random samples", () => {
		const rng = { next: seedrandom("calibration") };
		for (let trial = 0; trial < 20; trial++) {
			const samples: CalibrationSample[] = Array.from({ length: 50 + trial * 7 }, () => {
				const raw = Array.from({ length: 4 }, () => rng.next() ** 3);
				const scale = rng.next();
				const sum = raw.reduce((a, b) => a + b, 0);
				return { probs: raw.map((r) => (r / sum) * scale), gold: Math.floor(rng.next() * 4) };
			});
			expect(eceFromBins(reliabilityBins(samples), samples.length)).toBeCloseTo(expectedCalibrationError(samples), 12);
		}
	});
});
