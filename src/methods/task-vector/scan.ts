/**
 * The scan loops of the task-vector kernel (kernel.ts), each over elements [from, to) of one model's
 * array x and the base b, whose element 0 has global index `shift`. Norms are float64 sums in index order, exactly
 * as the sparsifiers of sparsify.ts compute them on a whole task vector, so the rescale factors are bit-identical
 * for any blocking.
 */
import { ABS_MASK, bitsOf, TOP_DIGIT_BITS, TOP_DIGIT_SHIFT } from "../../tensor/radix-select.js";
import { counterHash, counterHiMix, UNIFORM_SCALE, uniformAt } from "../../tensor/rng.js";
import { cutKeepExact, cutThreshold, flag, segmentEnd } from "./fill.js";
import type { KernelSet } from "./kernel-set.js";
import { inlineDraws, type ModelPlan } from "./plan.js";
import { NO_LOWER } from "./term.js";

/** DARE's keep decision for counter c: the inline hash, or the reference definition past 2^32. */
function keepAt(p: ModelPlan, c: number, inline: boolean, hiMix: number, limit: number): number {
	return inline ? flag(counterHash(c, p.key.lo, p.key.hi, hiMix) >>> 0 < limit) : flag(uniformAt(p.key, c) * UNIFORM_SCALE < p.threshold);
}

/**
 * DARE with the L1 rescale, pass 0: records each keep decision as a bit (global index g at bit g & 31 of word
 * g >>> 5) and sums ‖δ‖₁ and ‖m⊙δ‖₁. Random counters are the global index plus `streamShift`. The fast loop adds
 * |δ|·k; a block holding a non-finite |δ| (where ∞·0 would be NaN) is summed again by the definition.
 */
export function scanDareBits(
	p: ModelPlan,
	x: Float32Array,
	b: Float32Array,
	from: number,
	to: number,
	shift: number,
	streamShift: number,
	kernels: KernelSet,
): void {
	const c0 = shift + streamShift;
	const inline = inlineDraws(p.threshold, from + c0, to - 1 + c0);
	const before = p.l1Before;
	const after = p.l1After;
	if (
		inline &&
		(kernels.dareBits(p, x, b, from, to, shift, c0, counterHiMix(p.key), Math.ceil(p.threshold)) ||
			dareBitsFast(p, x, b, from, to, shift, c0))
	)
		return;
	// Reference draws, or a non-finite |δ|: the exact sums from the block's starting values.
	p.l1Before = before;
	p.l1After = after;
	const hiMix = counterHiMix(p.key);
	const limit = Math.ceil(p.threshold);
	const bits = p.keepBits!;
	let l1 = before;
	let kept = after;
	for (let i = from; i < to; i++) {
		const a = Math.abs(Math.fround(x[i]! - b[i]!));
		const k = keepAt(p, i + c0, inline, hiMix, limit);
		l1 += a;
		if (k === 1) kept += a;
		const g = i + shift;
		bits[g >>> 5] = bits[g >>> 5]! | (k << (g & 31));
	}
	p.l1Before = l1;
	p.l1After = kept;
}

/** The inline-hash loop of scanDareBits; false when the block held a non-finite |δ| (its sums are then wrong). */
function dareBitsFast(p: ModelPlan, x: Float32Array, b: Float32Array, from: number, to: number, shift: number, c0: number): boolean {
	const bits = p.keepBits!;
	const { lo, hi } = p.key;
	const hiMix = counterHiMix(p.key);
	const limit = Math.ceil(p.threshold);
	let before = p.l1Before;
	let after = p.l1After;
	let bad = 0;
	for (let i = from; i < to; ) {
		const g = i + shift;
		const wordEnd = Math.min(to, i + 32 - (g & 31));
		let word = 0;
		for (let bit = g & 31; i < wordEnd; i++, bit++) {
			const a = Math.abs(Math.fround(x[i]! - b[i]!));
			const k = flag(counterHash(i + c0, lo, hi, hiMix) >>> 0 < limit);
			before += a;
			// A dropped entry adds +0, which leaves the non-negative sum unchanged.
			after += a * k;
			bad += flag(a - a !== 0);
			word |= k << bit;
		}
		bits[g >>> 5] = bits[g >>> 5]! | word;
	}
	p.l1Before = before;
	p.l1After = after;
	return bad === 0;
}

/** Adds ‖δ‖₁ of the block to the model's l1Before (rank cuts with the L1 rescale, pass 1). */
export function scanL1Before(p: ModelPlan, x: Float32Array, b: Float32Array, from: number, to: number): void {
	let l1 = p.l1Before;
	for (let i = from; i < to; i++) l1 += Math.abs(Math.fround(x[i]! - b[i]!));
	p.l1Before = l1;
}

/**
 * Adds ‖m⊙δ‖₁ of the rank mask over the block to l1After (only kept entries are added, in index order); a block
 * holding a non-finite |δ| is summed again by the definition.
 */
export function scanKeptL1(p: ModelPlan, x: Float32Array, b: Float32Array, from: number, to: number, shift: number): void {
	const up = p.upper!;
	const low = p.lower;
	const uKey = up.key;
	const uTie = (up.tiePending ? Number.POSITIVE_INFINITY : up.tieEnd) - shift;
	const lKey = low?.key ?? NO_LOWER;
	const lTie = low === undefined ? 0 : (low.tiePending ? Number.POSITIVE_INFINITY : low.tieEnd) - shift;
	const start = p.l1After;
	let l1 = start;
	let bad = 0;
	for (let s = from; s < to; ) {
		const e = segmentEnd(s, to, uTie, lTie);
		const tU = cutThreshold(uKey, uTie, s);
		const tL = cutThreshold(lKey, lTie, s);
		for (let i = s; i < e; i++) {
			const a = Math.abs(Math.fround(x[i]! - b[i]!));
			l1 += a * (flag(a > tU) & flag(a <= tL));
			bad += flag(a - a !== 0);
		}
		s = e;
	}
	if (bad > 0) l1 = keptL1Exact(x, b, from, to, start, uKey, uTie, lKey, lTie);
	p.l1After = l1;
}

/** scanKeptL1's sum by the definition, from its value at the block start (a block holding NaN or ±∞). */
function keptL1Exact(
	x: Float32Array,
	b: Float32Array,
	from: number,
	to: number,
	start: number,
	uKey: number,
	uTie: number,
	lKey: number,
	lTie: number,
): number {
	let l1 = start;
	for (let i = from; i < to; i++) {
		const d = Math.fround(x[i]! - b[i]!);
		if (cutKeepExact(d, i, uKey, uTie, lKey, lTie) !== 0) l1 += Math.abs(d);
	}
	return l1;
}

/** δ = f32(x − b) of the block into scratch[0, to − from), returned as bit patterns (the radix route's keys). */
export function deltaKeys(x: Float32Array, b: Float32Array, from: number, to: number, scratch: Float32Array): Uint32Array {
	for (let i = from; i < to; i++) scratch[i - from] = x[i]! - b[i]!;
	return bitsOf(scratch.subarray(0, to - from));
}

/** Counts the top magnitude digits of `keys` into a HISTOGRAM_COPIES × TOP_DIGIT_BUCKETS array (radix TOP pass). */
export function countTopDigits(keys: Uint32Array, wide: Uint32Array): void {
	for (let i = 0; i < keys.length; i++) wide[((i & 3) << TOP_DIGIT_BITS) | ((keys[i]! & ABS_MASK) >>> TOP_DIGIT_SHIFT)]!++;
}
