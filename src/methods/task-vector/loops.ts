/**
 * The fused emit loops of the task-vector kernel (see emit.ts for what they compute and why it is exact).
 * One model: one loop per mask kind. Two models: per-model loops fill contributions, then one loop mixes.
 */
import { counterHash } from "../../tensor/rng.js";
import { addMerged, mergedOneExact, mergedTwoExact } from "./combine.js";
import { flag } from "./fill.js";
import { exactValue, type Lane, type Mixer } from "./lanes.js";

/*
 * Single letters kept for the math (the formulas of emit.ts), in these loops and in native/kernels.c:
 *
 * | letter   | meaning                                   | letter   | meaning                                      |
 * |----------|-------------------------------------------|----------|----------------------------------------------|
 * | x, b     | model and base arrays; bv = b[i]          | d, a     | δ = f32(x[i] − bv) and |δ|                   |
 * | k        | keep flag: 1 kept, 0 dropped              | sv       | the lane's scaleValue (1 without a rescale)  |
 * | w        | the lane's weight                         | r, D     | the divisor's reciprocal (or 1), the divisor |
 * | t        | r or D of a one-model all-kept loop       | T        | the mixer's four divisors or reciprocals     |
 * | tU, tL   | |δ| cuts of a segment: kept when tU < a ≤ tL | m     | the merged value written to dst[i + delta]   |
 * | g        | global index (keep bit g & 31 of word g >>> 5) | cShift | random counter of index i: i + cShift    |
 * | v0s, v1s | two models' contributions f32(δ·k·sv)·w   | bad      | count of non-finite results (for fixUp)      |
 */

/*
 * The result loops write position i's result to dst[i + delta] and return how many results are not finite. They
 * have no branch besides the loop's: V8 compiles even loop-invariant tests in these bodies to slow code, so each
 * form gets its own loop, and the per-model options enter as numbers. A kept entry is δ·1 and a dropped one δ·0;
 * the rescale is always fround(s·sv) (sv = 1 without one: a float32 value is its own fround); a 1-model combine
 * folds into its divisor. A NaN or ±Infinity input always gives a non-finite result, which fixUp then recomputes by
 * the definition; finite results are exact.
 */

/** One model, rank cuts, on a segment with constant thresholds: × r (a reciprocal, or 1), then × λ. */
export function cutsOneMul(
	x: Float32Array,
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	tU: number,
	tL: number,
	sv: number,
	w: number,
	r: number,
	lambda: number,
): number {
	let bad = 0;
	for (let i = from; i < to; i++) {
		const bv = b[i]!;
		const d = Math.fround(x[i]! - bv);
		const a = Math.abs(d);
		const m = addMerged(bv, Math.fround(d * (flag(a > tU) & flag(a <= tL)) * sv) * w * r * lambda);
		dst[i + delta] = m;
		bad += flag(m - m !== 0);
	}
	return bad;
}

/** As {@link cutsOneMul}, dividing by D (a divisor that is not a power of two). */
export function cutsOneDiv(
	x: Float32Array,
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	tU: number,
	tL: number,
	sv: number,
	w: number,
	D: number,
	lambda: number,
): number {
	let bad = 0;
	for (let i = from; i < to; i++) {
		const bv = b[i]!;
		const d = Math.fround(x[i]! - bv);
		const a = Math.abs(d);
		const m = addMerged(bv, ((Math.fround(d * (flag(a > tU) & flag(a <= tL)) * sv) * w) / D) * lambda);
		dst[i + delta] = m;
		bad += flag(m - m !== 0);
	}
	return bad;
}

/** One model, DARE's inline draw (counters i + cShift). */
export function randomOne(
	x: Float32Array,
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	L: Lane,
	cShift: number,
	r: number,
	lambda: number,
): number {
	const { keyLo, keyHi, keyHiMix, keepLimit, scaleValue: sv, weight: w } = L;
	let bad = 0;
	for (let i = from; i < to; i++) {
		const bv = b[i]!;
		const d = Math.fround(x[i]! - bv);
		const k = flag(counterHash(i + cShift, keyLo, keyHi, keyHiMix) >>> 0 < keepLimit);
		const m = addMerged(bv, Math.fround(d * k * sv) * w * r * lambda);
		dst[i + delta] = m;
		bad += flag(m - m !== 0);
	}
	return bad;
}

/** One model, keep bits recorded by the scan (global index i + shift). */
export function bitsOne(
	x: Float32Array,
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	L: Lane,
	shift: number,
	r: number,
	lambda: number,
): number {
	const { scaleValue: sv, weight: w } = L;
	const bits = L.bits!;
	let bad = 0;
	for (let i = from; i < to; i++) {
		const bv = b[i]!;
		const d = Math.fround(x[i]! - bv);
		const g = i + shift;
		const m = addMerged(bv, Math.fround(d * ((bits[g >>> 5]! >>> (g & 31)) & 1) * sv) * w * r * lambda);
		dst[i + delta] = m;
		bad += flag(m - m !== 0);
	}
	return bad;
}

/*
 * Two models run in sub-blocks: each model's contribution v = fround(δ·k·sv)·w is filled into a float64 buffer by
 * one small loop per model, then one loop elects signs and mixes. (One loop doing both holds too many values for
 * the registers and runs slower.)
 */

/** Contributions of a rank-cut lane over a segment with constant thresholds, into out[o + i − from]. */
export function cutsValues(
	x: Float32Array,
	b: Float32Array,
	from: number,
	to: number,
	tU: number,
	tL: number,
	sv: number,
	w: number,
	out: Float64Array,
	o: number,
): void {
	for (let i = from; i < to; i++) {
		const d = Math.fround(x[i]! - b[i]!);
		const a = Math.abs(d);
		out[o + i - from] = Math.fround(d * (flag(a > tU) & flag(a <= tL)) * sv) * w;
	}
}

/** Contributions of a DARE lane drawing its hash inline (counters i + cShift). */
export function randomValues(x: Float32Array, b: Float32Array, from: number, to: number, L: Lane, cShift: number, out: Float64Array): void {
	const { keyLo, keyHi, keyHiMix, keepLimit, scaleValue: sv, weight: w } = L;
	for (let i = from; i < to; i++) {
		const k = flag(counterHash(i + cShift, keyLo, keyHi, keyHiMix) >>> 0 < keepLimit);
		out[i - from] = Math.fround(Math.fround(x[i]! - b[i]!) * k * sv) * w;
	}
}

/** Contributions of a lane with recorded keep bits (global index i + shift). */
export function bitsValues(x: Float32Array, b: Float32Array, from: number, to: number, L: Lane, shift: number, out: Float64Array): void {
	const { scaleValue: sv, weight: w } = L;
	const bits = L.bits!;
	for (let i = from; i < to; i++) {
		const g = i + shift;
		out[i - from] = Math.fround(Math.fround(x[i]! - b[i]!) * ((bits[g >>> 5]! >>> (g & 31)) & 1) * sv) * w;
	}
}

/**
 * Two models' merged values from their contributions v0s, v1s (index i − from): with consensus the agreeing models
 * (a = 1) are those whose contribution has the sign of the total; without, both agree and the mix is v0 + v1. T
 * holds the divisors (`M.divide`) or reciprocals by a0 + 2·a1 (index 3 without consensus). One small loop per form.
 */
export function mixTwo(
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	v0s: Float64Array,
	v1s: Float64Array,
	M: Mixer,
): number {
	const { divisors: T, lambda } = M;
	if (!M.elect)
		return M.divide ? sumDiv(b, dst, delta, from, to, v0s, v1s, T[3]!, lambda) : sumMul(b, dst, delta, from, to, v0s, v1s, T[3]!, lambda);
	return M.divide ? electDiv(b, dst, delta, from, to, v0s, v1s, T, lambda) : electMul(b, dst, delta, from, to, v0s, v1s, T, lambda);
}

function electMul(
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	v0s: Float64Array,
	v1s: Float64Array,
	T: Float64Array,
	lambda: number,
): number {
	let bad = 0;
	for (let i = from, j = 0; i < to; i++, j++) {
		const v0 = v0s[j]!;
		const v1 = v1s[j]!;
		const sign = 2 * flag(v0 + v1 >= 0) - 1;
		const a0 = flag(v0 * sign > 0);
		const a1 = flag(v1 * sign > 0);
		const m = addMerged(b[i]!, (v0 * a0 + v1 * a1) * T[a0 | (a1 << 1)]! * lambda);
		dst[i + delta] = m;
		bad += flag(m - m !== 0);
	}
	return bad;
}

function electDiv(
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	v0s: Float64Array,
	v1s: Float64Array,
	T: Float64Array,
	lambda: number,
): number {
	let bad = 0;
	for (let i = from, j = 0; i < to; i++, j++) {
		const v0 = v0s[j]!;
		const v1 = v1s[j]!;
		const sign = 2 * flag(v0 + v1 >= 0) - 1;
		const a0 = flag(v0 * sign > 0);
		const a1 = flag(v1 * sign > 0);
		const m = addMerged(b[i]!, ((v0 * a0 + v1 * a1) / T[a0 | (a1 << 1)]!) * lambda);
		dst[i + delta] = m;
		bad += flag(m - m !== 0);
	}
	return bad;
}

function sumMul(
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	v0s: Float64Array,
	v1s: Float64Array,
	t: number,
	lambda: number,
): number {
	let bad = 0;
	for (let i = from, j = 0; i < to; i++, j++) {
		const m = addMerged(b[i]!, (v0s[j]! + v1s[j]!) * t * lambda);
		dst[i + delta] = m;
		bad += flag(m - m !== 0);
	}
	return bad;
}

function sumDiv(
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	v0s: Float64Array,
	v1s: Float64Array,
	t: number,
	lambda: number,
): number {
	let bad = 0;
	for (let i = from, j = 0; i < to; i++, j++) {
		const m = addMerged(b[i]!, ((v0s[j]! + v1s[j]!) / t) * lambda);
		dst[i + delta] = m;
		bad += flag(m - m !== 0);
	}
	return bad;
}

/** Contributions of a KIND_ALL lane (every entry, no rescale): δ·w. */
export function allValues(x: Float32Array, b: Float32Array, from: number, to: number, w: number, out: Float64Array): void {
	for (let i = from; i < to; i++) out[i - from] = Math.fround(x[i]! - b[i]!) * w;
}

/** Every entry of one model (KIND_ALL: no sparsifier, density ≥ 1); `M.divide` picks the division form. */
export function allOne(
	x: Float32Array,
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	w: number,
	M: Mixer,
): number {
	return M.divide
		? allDiv(x, b, dst, delta, from, to, w, M.divisors[0]!, M.lambda)
		: allMul(x, b, dst, delta, from, to, w, M.divisors[0]!, M.lambda);
}

function allMul(
	x: Float32Array,
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	w: number,
	t: number,
	lambda: number,
): number {
	let bad = 0;
	for (let i = from; i < to; i++) {
		const bv = b[i]!;
		const m = addMerged(bv, Math.fround(x[i]! - bv) * w * t * lambda);
		dst[i + delta] = m;
		bad += flag(m - m !== 0);
	}
	return bad;
}

function allDiv(
	x: Float32Array,
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	w: number,
	t: number,
	lambda: number,
): number {
	let bad = 0;
	for (let i = from; i < to; i++) {
		const bv = b[i]!;
		const m = addMerged(bv, ((Math.fround(x[i]! - bv) * w) / t) * lambda);
		dst[i + delta] = m;
		bad += flag(m - m !== 0);
	}
	return bad;
}

/** Recomputes, by the definition, every non-finite result of positions [from, to) (NaN / ±∞ inputs, overflows). */
export function fixUp(
	lanes: readonly Lane[],
	M: Mixer,
	xs: readonly Float32Array[],
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	shift: number,
	cShift: number,
): void {
	const L0 = lanes[0]!;
	const L1 = lanes[1];
	for (let i = from; i < to; i++) {
		const r = dst[i + delta]!;
		if (r - r === 0) continue;
		const bv = b[i]!;
		const v0 = exactValue(L0, Math.fround(xs[0]![i]! - bv), i, shift, cShift);
		if (L1 === undefined) dst[i + delta] = mergedOneExact(bv, v0, L0.weight, M.opts);
		else
			dst[i + delta] = mergedTwoExact(bv, v0, exactValue(L1, Math.fround(xs[1]![i]! - bv), i, shift, cShift), L0.weight, L1.weight, M.opts);
	}
}
