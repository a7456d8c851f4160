import { EvaluationError } from "../errors.js";

/**
 * The paper's calibration script bins confidences into 5 equal-width bins over (0, 1]; other bin
 * counts give different numbers and would not be comparable with its ECE figures.
 */
export const ECE_BINS = 5;

/** Softmax over the full vocabulary in float64, max-subtracted for stability. */
export function softmax(logits: ArrayLike<number>): Float64Array {
	let max = -Infinity;
	for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
	const out = new Float64Array(logits.length);
	let sum = 0;
	for (let i = 0; i < logits.length; i++) {
		const e = Math.exp((logits[i] as number) - max);
		out[i] = e;
		sum += e;
	}
	for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / sum;
	return out;
}

/** What one prompt's last-position logits say about the option letters. */
interface LetterScore {
	/** P(letter) = max over the letter's token ids of the full-vocabulary softmax (not renormalised). */
	letterProbs: Record<string, number>;
	/** Arg-max over the whole vocabulary (first index on ties). */
	top1Id: number;
}

/**
 * Letter probabilities and the top-1 token of one logits vector, without materialising the softmax.
 * NaN logits (a broken checkpoint) throw EvaluationError "Backend" rather than scoring silently wrong.
 */
export function scoreLogits(
	logits: ArrayLike<number>,
	letterIds: Record<string, readonly number[]>,
	letters: readonly string[],
): LetterScore {
	let max = -Infinity;
	let top1Id = -1;
	for (let i = 0; i < logits.length; i++) {
		const v = logits[i] as number;
		if (Number.isNaN(v)) throw new EvaluationError("Backend", `logit ${i} is NaN: the model produced invalid numbers`);
		if (v > max) {
			max = v;
			top1Id = i;
		}
	}
	let sum = 0;
	for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] as number) - max);
	const letterProbs: Record<string, number> = {};
	for (const l of letters) {
		let p = 0;
		for (const id of letterIds[l] ?? []) {
			if (id < logits.length) p = Math.max(p, Math.exp((logits[id] as number) - max) / sum);
		}
		letterProbs[l] = p;
	}
	return { letterProbs, top1Id };
}

/** The letter with the largest probability, the first in `letters` order on ties (numpy's argmax). */
export function argmaxLetter(probs: Record<string, number>, letters: readonly string[]): string {
	let best = letters[0] ?? "";
	let bestP = -Infinity;
	for (const l of letters) {
		const p = probs[l] ?? 0;
		if (p > bestP) {
			bestP = p;
			best = l;
		}
	}
	return best;
}

/** Element-wise sum of several models' letter probabilities (the paper's ensemble; not renormalised). */
export function sumLetterProbs(list: readonly Record<string, number>[]): Record<string, number> {
	const out: Record<string, number> = {};
	for (const probs of list) {
		for (const [l, p] of Object.entries(probs)) out[l] = (out[l] ?? 0) + p;
	}
	return out;
}

/** One item for calibration: its letter probabilities in option order and the gold's index. */
export interface CalibrationSample {
	probs: readonly number[];
	gold: number;
}

/** numpy.linspace(0, 1, bins + 1)[b]: b · (1 / bins), with the last edge exactly 1. */
function binEdge(b: number, bins: number): number {
	return b === bins ? 1 : b * (1 / bins);
}

/**
 * Expected calibration error as the paper's script computes it, as a fraction (×100 for percent):
 * confidence = the largest letter probability, prediction = its letter (first on ties), bins
 * (lower, upper] over (0, 1]; ECE = Σ |mean confidence − accuracy| · (items in bin / all items).
 * Items whose confidence is 0 or above 1 fall in no bin but still count in "all items".
 */
export function expectedCalibrationError(samples: readonly CalibrationSample[], bins: number = ECE_BINS): number {
	if (samples.length === 0) return 0;
	const conf = samples.map((s) => Math.max(...s.probs));
	const correct = samples.map((s, i) => s.probs.indexOf(conf[i] as number) === s.gold);
	let ece = 0;
	for (let b = 0; b < bins; b++) {
		const lo = binEdge(b, bins);
		const hi = binEdge(b + 1, bins);
		let n = 0;
		let confSum = 0;
		let accSum = 0;
		conf.forEach((c, i) => {
			if (c > lo && c <= hi) {
				n++;
				confSum += c;
				accSum += correct[i] ? 1 : 0;
			}
		});
		if (n > 0) ece += Math.abs(confSum / n - accSum / n) * (n / samples.length);
	}
	return ece;
}

/** Mean and population standard deviation (statistics.pstdev), 0 for an empty list. */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
	if (values.length === 0) return { mean: 0, std: 0 };
	const mean = values.reduce((a, b) => a + b, 0) / values.length;
	const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
	return { mean, std: Math.sqrt(variance) };
}

/** UTF-8 byte length of a string. */
function byteLength(s: string): number {
	return Buffer.byteLength(s, "utf8");
}

/**
 * Harness predictions from the choices' log-likelihoods: `acc` picks the largest log-likelihood,
 * `acc_norm` the largest log-likelihood per UTF-8 byte of the choice text (without the leading
 * space), as lm-evaluation-harness does (it divides by the string length; equal for ASCII choices).
 */
export function harnessPredictions(logprobs: readonly number[], choices: readonly string[]): { pred: number; predNorm: number } {
	let pred = 0;
	let predNorm = 0;
	for (let i = 1; i < logprobs.length; i++) {
		if ((logprobs[i] as number) > (logprobs[pred] as number)) pred = i;
		const norm = (logprobs[i] as number) / Math.max(1, byteLength(choices[i] ?? ""));
		const best = (logprobs[predNorm] as number) / Math.max(1, byteLength(choices[predNorm] ?? ""));
		if (norm > best) predNorm = i;
	}
	return { pred, predNorm };
}
