/**
 * The per-model inner loops of the task-vector kernel. Each writes, for one block of positions, the contribution
 * w · scale(mask(δ)) of one model into a float64 buffer. Keep/drop decisions become 0/1 integers and are applied
 * by multiplication (δ·k), so a coin-flip mask costs no branch mispredictions; only a non-finite δ, where δ·0 would
 * be NaN, takes an exact (rare, well-predicted) branch. A dropped finite entry can therefore come out as −0 where
 * a zeroed stored task vector holds +0: zeros never take part in sign election and a merged zero keeps the base
 * value, so the output is the same. DARE's hash is drawn inline (counterHash, inlined by the JIT).
 */
import { keyOf, valueOfKey } from "../../tensor/radix-select.js";
import { counterHash, counterHiMix, UNIFORM_SCALE, uniformAt } from "../../tensor/rng.js";
import { MASK_BITS, MASK_CUTS, MASK_RANDOM, MASK_ZERO, SCALE_DIV, SCALE_MUL, type Term } from "./term.js";

/** Largest counter the inline hash handles (the high word of the counter is 0 below 2^32). */
export const INLINE_HASH_LIMIT = UNIFORM_SCALE;

/** −1 when the unsigned 32-bit h < t, else 0 (Hacker's Delight borrow bit; h and t as int32 bit patterns). */
function lessMask(h: number, t: number): number {
	return ((~h & t) | (~(h ^ t) & ((h - t) | 0))) >> 31;
}

/** δ if k = 1, a zero if k = 0: one multiply, exact up to the sign of that zero (see the file comment). */
export function keepIf(d: number, k: number): number {
	const v = d * k;
	return d - d === 0 ? v : k === 0 ? 0 : d;
}

/**
 * Rescale (rounded to float32, like a stored task vector) and weight: w · scale(d). `scale` and `sv` are the term's
 * loop-invariant SCALE_* and value, so these branches are perfectly predicted.
 */
export function weighed(d: number, scale: number, sv: number, w: number): number {
	if (scale === SCALE_MUL) return Math.fround(d * sv) * w;
	if (scale === SCALE_DIV) return Math.fround(d / sv) * w;
	return d * w;
}

/** MASK_ALL: δ recomputed as f32(x − b), or read from the stored (already masked) δ. */
function fillAll(t: Term, base: Float32Array, start: number, len: number, out: Float64Array, o: number): void {
	const { weight: w, scale, scaleValue: sv } = t;
	const d = t.delta;
	if (d !== undefined) {
		for (let j = 0; j < len; j++) out[o + j] = weighed(d[start + j]!, scale, sv, w);
		return;
	}
	const x = t.model;
	for (let j = 0; j < len; j++) out[o + j] = weighed(Math.fround(x[start + j]! - base[start + j]!), scale, sv, w);
}

/** MASK_RANDOM: δ = f32(x − b) kept when its inline-drawn hash is below the threshold. */
function fillRandom(t: Term, base: Float32Array, start: number, len: number, out: Float64Array, o: number): void {
	const { weight: w, scale, scaleValue: sv, threshold } = t;
	const x = t.model;
	const first = t.offset + start;
	const limit = Math.ceil(threshold);
	if (first + len > INLINE_HASH_LIMIT || limit > 0xffffffff) {
		// Counters past 2^32 (or a threshold keeping every 32-bit hash): the reference definition.
		for (let j = 0; j < len; j++) {
			const kept = uniformAt(t.key, first + j) * UNIFORM_SCALE < threshold;
			out[o + j] = weighed(kept ? Math.fround(x[start + j]! - base[start + j]!) : 0, scale, sv, w);
		}
		return;
	}
	const { lo, hi } = t.key;
	const hiMix = counterHiMix(t.key);
	const limitBits = limit | 0;
	for (let j = 0; j < len; j++) {
		const k = lessMask(counterHash(first + j, lo, hi, hiMix), limitBits) & 1;
		out[o + j] = weighed(keepIf(Math.fround(x[start + j]! - base[start + j]!), k), scale, sv, w);
	}
}

/** 1 for true, 0 for false, without a branch (a compare and a set; `c ? 1 : 0` compiles to a jump). */
export function flag(c: boolean): number {
	return (c as unknown as number) | 0;
}

/**
 * The float threshold of a rank cut at array index i: a non-NaN |δ| is selected exactly when it is above it (the
 * cut's key − 1 before the tie end, so equal keys are taken there, the key itself from the tie end on).
 */
export function cutThreshold(key: number, tieEnd: number, i: number): number {
	return valueOfKey(i < tieEnd ? key - 1 : key);
}

/** The end of the segment starting at s: the first tie end after s, or `end` (thresholds are constant inside). */
export function segmentEnd(s: number, end: number, tieA: number, tieB: number): number {
	let e = end;
	if (tieA > s && tieA < e) e = tieA;
	if (tieB > s && tieB < e) e = tieB;
	return e;
}

/** Whether the cut (cutKey, tieEnd) selects `key` at index i: above the cut key, or equal to it before tieEnd. */
function inCut(key: number, i: number, cutKey: number, tieEnd: number): boolean {
	return key > cutKey || (key === cutKey && i < tieEnd);
}

/** keepIf for a non-finite δ under rank cuts, on exact integer keys (NaN keys have no float order). */
export function cutKeepExact(d: number, i: number, upperKey: number, upperTieEnd: number, lowerKey: number, lowerTieEnd: number): number {
	const key = keyOf(d);
	return inCut(key, i, upperKey, upperTieEnd) && !inCut(key, i, lowerKey, lowerTieEnd) ? d : 0;
}

/**
 * MASK_CUTS: δ = f32(x − b) kept inside the rank range. Float compares against per-segment thresholds decide
 * finite entries without a branch; a non-finite δ takes the exact integer-key test.
 */
function fillCuts(t: Term, base: Float32Array, start: number, len: number, out: Float64Array, o: number): void {
	const { weight: w, scale, scaleValue: sv, upperKey, upperTieEnd, lowerKey, lowerTieEnd } = t;
	const x = t.model;
	const end = start + len;
	for (let s = start; s < end; ) {
		const e = segmentEnd(s, end, upperTieEnd, lowerTieEnd);
		const tU = cutThreshold(upperKey, upperTieEnd, s);
		const tL = cutThreshold(lowerKey, lowerTieEnd, s);
		for (let i = s; i < e; i++) {
			const d = Math.fround(x[i]! - base[i]!);
			const a = Math.abs(d);
			const k = flag(a > tU) & flag(a <= tL);
			const kept = d - d === 0 ? d * k : cutKeepExact(d, i, upperKey, upperTieEnd, lowerKey, lowerTieEnd);
			out[o + i - start] = weighed(kept, scale, sv, w);
		}
		s = e;
	}
}

/** MASK_BITS: δ = f32(x − b) kept where its bit is set. */
function fillBits(t: Term, base: Float32Array, start: number, len: number, out: Float64Array, o: number): void {
	const { weight: w, scale, scaleValue: sv, bitShift } = t;
	const bits = t.keepBits!;
	const x = t.model;
	for (let j = 0; j < len; j++) {
		const g = start + j + bitShift;
		const k = (bits[g >>> 5]! >>> (g & 31)) & 1;
		out[o + j] = weighed(keepIf(Math.fround(x[start + j]! - base[start + j]!), k), scale, sv, w);
	}
}

/** out[o + j] = contribution w · scale(mask(δ)) of term `t` at position start + j, for j < len. */
export function fillTerm(t: Term, base: Float32Array, start: number, len: number, out: Float64Array, o: number): void {
	switch (t.mask) {
		case MASK_ZERO: {
			const w = t.weight;
			for (let j = 0; j < len; j++) out[o + j] = 0 * w;
			return;
		}
		case MASK_RANDOM:
			fillRandom(t, base, start, len, out, o);
			return;
		case MASK_CUTS:
			fillCuts(t, base, start, len, out, o);
			return;
		case MASK_BITS:
			fillBits(t, base, start, len, out, o);
			return;
		default:
			fillAll(t, base, start, len, out, o);
	}
}
