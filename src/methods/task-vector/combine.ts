/**
 * The combine step of the task-vector kernel: for each block of positions, every term writes its weighted
 * contribution wᵢ·scale(mask(δᵢ)) into a small float64 buffer (fill.ts), then one loop does the sign
 * consensus, weighted sum, ÷divisor, ×λ and +base and stores float32 once. One and two models (the usual merges)
 * have their own loops with the per-model values in registers. Buffers are a few KB per model, so the only
 * full-size traffic is reading the inputs and writing the output.
 */
import { fillTerm, flag } from "./fill.js";
import type { Term } from "./term.js";

/** Positions per block: 2048 float64 per model (16 KB) keeps the per-model buffers in L1/L2 cache. */
const COMBINE_BLOCK = 2048;

/** How the contributions are combined (resolved by mergeTaskVectors). */
export interface CombineOptions {
	consensus: boolean;
	normalize: boolean;
	lambda: number;
	/** Without consensus: Σ weights (1 when it is nearly 0). */
	divisor: number;
}

/**
 * out[i] = base[i] + λ·combine(contributions at i), or exactly base[i] where the merged task vector is 0. `out` may
 * be `base` itself: each block's inputs are read before its outputs are written. Per position, in model order:
 * with consensus, total = 0 + Σ vᵢ elects + (total ≥ 0) or −, mixed = −0 + Σ of the vᵢ with that sign (never
 * zeros) and divisor = 0 + Σ of their weights (1 if 0); without, mixed = −0 + Σ vᵢ and the divisor is fixed.
 */
export function combineTerms(base: Float32Array, terms: readonly Term[], opts: CombineOptions, out: Float32Array): Float32Array {
	return combineRange(base, terms, opts, out, 0, base.length, combineScratch(terms.length));
}

/** The float64 buffer {@link combineRange} needs for `count` models (hoist it out of per-block calls). */
export function combineScratch(count: number): Float64Array {
	return new Float64Array(Math.max(count, 1) * COMBINE_BLOCK);
}

/** {@link combineTerms} over positions [from, to) only, with a buffer from {@link combineScratch}. */
export function combineRange(
	base: Float32Array,
	terms: readonly Term[],
	opts: CombineOptions,
	out: Float32Array,
	from: number,
	to: number,
	values: Float64Array,
): Float32Array {
	const count = terms.length;
	const B = COMBINE_BLOCK;
	for (let start = from; start < to; start += B) {
		const len = Math.min(B, to - start);
		for (let m = 0; m < count; m++) fillTerm(terms[m]!, base, start, len, values, m * B);
		if (count === 1) combineOne(base, values, terms[0]!.weight, opts, start, len, out);
		else if (count === 2) combineTwo(base, values, terms[0]!.weight, terms[1]!.weight, opts, start, len, out);
		else combineMany(base, values, terms, opts, start, len, out);
	}
	return out;
}

/**
 * The merged value b + m, or exactly b when m = ±0 — without a branch: −0 − (0 − m) is −0 for m = ±0 and m
 * otherwise, and b + (−0) = b for every b (including −0).
 */
export function addMerged(b: number, m: number): number {
	return b + (-0 - (0 - m));
}

/**
 * One model. Fast path (finite weight, λ and divisor, checked once; finite contribution, checked per element):
 * agreement, sum and divisor by arithmetic on a 0/1 flag instead of branches; anything else takes the exact
 * branchy form. Both give the same float32 output (zeros differ at most in sign, which the output ignores).
 */
function combineOne(
	base: Float32Array,
	values: Float64Array,
	w0: number,
	opts: CombineOptions,
	start: number,
	len: number,
	out: Float32Array,
): void {
	const { consensus, normalize, lambda, divisor } = opts;
	const fast = Number.isFinite(w0) && Number.isFinite(lambda) && Number.isFinite(divisor);
	for (let j = 0; j < len; j++) {
		const v0 = values[j]!;
		const b = base[start + j]!;
		if (fast && v0 - v0 === 0) {
			let mixed: number;
			if (consensus) {
				// Alone, an entry always agrees with its own sign unless it is zero.
				const a = flag(v0 !== 0);
				mixed = -0 + v0 * a;
				const div = 0 + w0 * a;
				if (normalize) mixed /= div + flag(div === 0);
			} else {
				mixed = -0 + v0;
				if (normalize) mixed /= divisor;
			}
			out[start + j] = addMerged(b, mixed * lambda);
			continue;
		}
		out[start + j] = mergedOneExact(b, v0, w0, opts);
	}
}

/** One model's merged value at one position, by the definition (any weights, any contribution, NaN and ±Infinity). */
export function mergedOneExact(b: number, v0: number, w0: number, opts: CombineOptions): number {
	const { consensus, normalize, lambda, divisor } = opts;
	let mixed = -0;
	let div = 0;
	if (consensus) {
		if (0 + v0 >= 0 ? v0 > 0 : v0 < 0) {
			mixed += v0;
			div += w0;
		}
		if (normalize) mixed /= div === 0 ? 1 : div;
	} else {
		mixed += v0;
		if (normalize) mixed /= divisor;
	}
	mixed *= lambda;
	return mixed === 0 ? b : b + mixed;
}

/** Two models: as {@link combineOne}, with the elected sign as a ±1 factor in the fast path. */
function combineTwo(
	base: Float32Array,
	values: Float64Array,
	w0: number,
	w1: number,
	opts: CombineOptions,
	start: number,
	len: number,
	out: Float32Array,
): void {
	const { consensus, normalize, lambda, divisor } = opts;
	const B = COMBINE_BLOCK;
	const fast = Number.isFinite(w0) && Number.isFinite(w1) && Number.isFinite(lambda) && Number.isFinite(divisor);
	for (let j = 0; j < len; j++) {
		const v0 = values[j]!;
		const v1 = values[B + j]!;
		const b = base[start + j]!;
		if (fast && v0 - v0 === 0 && v1 - v1 === 0) {
			let mixed: number;
			if (consensus) {
				const sign = 2 * flag(0 + v0 + v1 >= 0) - 1;
				const a0 = flag(v0 * sign > 0);
				const a1 = flag(v1 * sign > 0);
				mixed = -0 + v0 * a0 + v1 * a1;
				const div = 0 + w0 * a0 + w1 * a1;
				if (normalize) mixed /= div + flag(div === 0);
			} else {
				mixed = -0 + v0 + v1;
				if (normalize) mixed /= divisor;
			}
			out[start + j] = addMerged(b, mixed * lambda);
			continue;
		}
		out[start + j] = mergedTwoExact(b, v0, v1, w0, w1, opts);
	}
}

/** Two models' merged value at one position, by the definition (see {@link mergedOneExact}). */
export function mergedTwoExact(b: number, v0: number, v1: number, w0: number, w1: number, opts: CombineOptions): number {
	const { consensus, normalize, lambda, divisor } = opts;
	let mixed = -0;
	if (consensus) {
		let div = 0;
		const positive = 0 + v0 + v1 >= 0;
		if (positive ? v0 > 0 : v0 < 0) {
			mixed += v0;
			div += w0;
		}
		if (positive ? v1 > 0 : v1 < 0) {
			mixed += v1;
			div += w1;
		}
		if (normalize) mixed /= div === 0 ? 1 : div;
	} else {
		mixed = mixed + v0 + v1;
		if (normalize) mixed /= divisor;
	}
	mixed *= lambda;
	return mixed === 0 ? b : b + mixed;
}

function combineMany(
	base: Float32Array,
	values: Float64Array,
	terms: readonly Term[],
	opts: CombineOptions,
	start: number,
	len: number,
	out: Float32Array,
): void {
	const { consensus, normalize, lambda, divisor } = opts;
	const count = terms.length;
	const B = COMBINE_BLOCK;
	for (let j = 0; j < len; j++) {
		let mixed = -0;
		if (consensus) {
			let total = 0;
			for (let m = 0; m < count; m++) total += values[m * B + j]!;
			const positive = total >= 0;
			let div = 0;
			for (let m = 0; m < count; m++) {
				const v = values[m * B + j]!;
				if (positive ? v > 0 : v < 0) {
					mixed += v;
					div += terms[m]!.weight;
				}
			}
			if (normalize) mixed /= div === 0 ? 1 : div;
		} else {
			for (let m = 0; m < count; m++) mixed += values[m * B + j]!;
			if (normalize) mixed /= divisor;
		}
		mixed *= lambda;
		const b = base[start + j]!;
		out[start + j] = mixed === 0 ? b : b + mixed;
	}
}
