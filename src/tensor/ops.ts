/**
 * Pure typed-array helpers shared by the merge kernels. Reductions accumulate in float64 (plain JS numbers);
 * in-place updates store back into float32, which rounds once per element.
 *
 * Magnitude ranking works on the IEEE-754 bit patterns (see radix-select.ts): NaN counts as the largest magnitude
 * (a NaN in a delta is kept by a top-k, never silently moved), and no float comparison can fail on it.
 */
import { MethodError } from "../errors.js";
import { ABS_MASK, absRankCut, bitsOf, topDigitHistogram } from "./radix-select.js";

/** Σ a[i]·b[i], accumulated in float64. */
export function dot(a: Float32Array, b: Float32Array): number {
	let s = 0;
	for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
	return s;
}

/** Σ x[i]², accumulated in float64. */
export function sumSquares(x: Float32Array): number {
	let s = 0;
	for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
	return s;
}

/** ‖x‖₁ = Σ |x[i]|, accumulated in float64. */
export function l1Norm(x: Float32Array): number {
	let s = 0;
	for (let i = 0; i < x.length; i++) s += Math.abs(x[i]!);
	return s;
}

/**
 * The magnitude of the k-th largest |x[i]| (1 ≤ k ≤ n), found in O(n) by a 3-pass radix select on the float bits;
 * no sort, no index array. NaN ranks above +Infinity, so the result is NaN when k ≤ the number of NaNs.
 */
export function kthLargestAbsThreshold(x: Float32Array, k: number): number {
	if (!Number.isInteger(k) || k < 1 || k > x.length) {
		throw new MethodError("InvalidParameter", "kthLargestAbsThreshold", `k = ${k} is outside [1, ${x.length}]`);
	}
	const { key } = absRankCut(bitsOf(x), k);
	return new Float32Array(new Uint32Array([key]).buffer)[0]!;
}

/**
 * A mask (1 = selected) of the elements whose rank in the descending-|x| order lies in [lo, hi). The order is
 * total and deterministic: larger magnitude first, and among equal magnitudes the lower index first (NaN counts as
 * the largest magnitude; +0 and −0 are equal). Bounds are clamped to [0, n].
 */
export function absRankRangeMask(x: Float32Array, lo: number, hi: number): Uint8Array {
	const bits = bitsOf(x);
	const mask = new Uint8Array(x.length);
	const top = topDigitHistogram(bits);
	const upper = absRankCut(bits, hi, top);
	const lower = absRankCut(bits, lo, top);
	for (let i = 0; i < bits.length; i++) {
		const key = bits[i]! & ABS_MASK;
		const belowHi = key > upper.key || (key === upper.key && i < upper.tieEnd);
		const belowLo = key > lower.key || (key === lower.key && i < lower.tieEnd);
		if (belowHi && !belowLo) mask[i] = 1;
	}
	return mask;
}

/**
 * A mask keeping exactly min(max(k, 0), n) elements: every element with |x| above the k-th largest magnitude, then
 * the elements equal to it in index order until k are kept (deterministic tie rule; NaN counts as largest).
 */
export function topKAbsMask(x: Float32Array, k: number): Uint8Array {
	const bits = bitsOf(x);
	const mask = new Uint8Array(x.length);
	const { key: cutKey, tieEnd } = absRankCut(bits, k);
	for (let i = 0; i < bits.length; i++) {
		const key = bits[i]! & ABS_MASK;
		if (key > cutKey || (key === cutKey && i < tieEnd)) mask[i] = 1;
	}
	return mask;
}
