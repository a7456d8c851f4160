import { type CalibrationSample, ECE_BINS } from "../eval/score.js";
import type { ReliabilityBin } from "./types.js";

/** numpy.linspace(0, 1, bins + 1)[b], as the evaluator's ECE uses it. */
function edge(b: number, bins: number): number {
	return b === bins ? 1 : b * (1 / bins);
}

/**
 * The reliability diagram behind the evaluator's ECE: the same confidence (largest letter
 * probability), prediction (its letter, first on ties) and bins (lower, upper] over (0, 1], with each
 * bin's prompt count, mean confidence and accuracy. Σ |confidence − accuracy| · count / all prompts
 * over these bins is the ECE of the same samples (tested against eval/score.ts).
 */
export function reliabilityBins(samples: readonly CalibrationSample[], bins: number = ECE_BINS): ReliabilityBin[] {
	const out: ReliabilityBin[] = Array.from({ length: bins }, (_, b) => ({
		lower: edge(b, bins),
		upper: edge(b + 1, bins),
		count: 0,
		confidence: 0,
		accuracy: 0,
	}));
	for (const s of samples) {
		const conf = Math.max(...s.probs);
		const right = s.probs.indexOf(conf) === s.gold;
		const bin = out.find((b) => conf > b.lower && conf <= b.upper);
		if (bin === undefined) continue;
		bin.count++;
		bin.confidence += conf;
		bin.accuracy += right ? 1 : 0;
	}
	for (const b of out) {
		if (b.count > 0) {
			b.confidence /= b.count;
			b.accuracy /= b.count;
		}
	}
	return out;
}

/** The ECE (fraction) that a set of bins implies, given the number of samples they were built from. */
export function eceFromBins(bins: readonly ReliabilityBin[], samples: number): number {
	if (samples === 0) return 0;
	return bins.reduce((sum, b) => sum + Math.abs(b.confidence - b.accuracy) * (b.count / samples), 0);
}
