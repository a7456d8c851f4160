/**
 * The combine step of the task-vector kernel for one block: out[i] = b + λ·combine(wᵢ·scale(mask(δᵢ))) with
 * δᵢ = f32(xᵢ − b) recomputed from the inputs. One and two models whose masks are of one kind (the usual merges)
 * run fused loops: mask, rescale, weight, sign election and the disjoint mean in one pass, with the per-model and
 * combine values in locals. They compute exactly what combineTerms (combine.ts) computes:
 *
 * - a kept finite entry is δ·1 and a dropped one δ·0 (a zero, whose sign never matters: see fill.ts);
 * - one model: the disjoint mean Σ(w·s)/Σw over the agreeing entries is (w·s)/w when w·s ≠ 0 and a zero otherwise,
 *   so it is (w·s)/D with D = w (consensus) or the fixed divisor, and a zero (the base value) otherwise;
 * - two models: the divisor is one of four values, by which models agree, precomputed as combineTwo sums them;
 * - dividing by a power of two equals multiplying by its reciprocal (both are the exact quotient, rounded once), so
 *   such divisors, and a ÷density rescale with a power-of-two density, become multiplications.
 *
 * The loops have no data-dependent branch (loops.ts); a non-finite result (NaN or ±Infinity in δ, or
 * an overflow) is recomputed by the definition (mergedOneExact / mergedTwoExact). Other shapes go through Terms
 * and combineRange: three or more models, mixed mask kinds, non-finite parameters, a ÷density rescale by a density
 * that is not a power of two, DARE whose divisors are not powers of two, random counters past 2^32.
 */

import { ARENA_SUB_BLOCK } from "../../wasm/kernels.js";
import { combineRange } from "./combine.js";
import { cutThreshold, segmentEnd } from "./fill.js";
import { type KernelSet, TYPESCRIPT_KERNELS } from "./kernel-set.js";
import { ALL_KEYS, type Lane, LOOP_ALL, LOOP_CUTS, LOOP_RANDOM, LOOP_TWO, type Mixer, tieOf } from "./lanes.js";
import {
	allOne,
	allValues,
	bitsOne,
	bitsValues,
	cutsOneDiv,
	cutsOneMul,
	cutsValues,
	fixUp,
	mixTwo,
	randomOne,
	randomValues,
} from "./loops.js";
import { KIND_ALL, KIND_BITS, KIND_CUTS, KIND_RANDOM, KIND_ZERO } from "./plan.js";
import { MASK_BITS, MASK_CUTS, MASK_RANDOM, MASK_ZERO, makeTerm, NO_LOWER, SCALE_NONE, type Term } from "./term.js";

/** Positions per sub-block of the two-model path: two float64 buffers of 16 KB stay in L1 cache. */
const SUB_BLOCK = ARENA_SUB_BLOCK;

/** A lane's rank cuts as [upper key, upper tie end, lower key, lower tie end] for the block at `shift`. */
function cutsOf(L: Lane, shift: number): [number, number, number, number] {
	return [L.upper?.key ?? ALL_KEYS, tieOf(L.upper, shift), L.lower?.key ?? NO_LOWER, tieOf(L.lower, shift)];
}

/** One model, rank cuts: segments between tie ends, each with constant thresholds. */
function emitCutsOne(
	L: Lane,
	M: Mixer,
	x: Float32Array,
	b: Float32Array,
	dst: Float32Array,
	delta: number,
	from: number,
	to: number,
	shift: number,
): number {
	const [uKey, uTie, lKey, lTie] = cutsOf(L, shift);
	let bad = 0;
	for (let s = from; s < to; ) {
		const e = segmentEnd(s, to, uTie, lTie);
		const tU = cutThreshold(uKey, uTie, s);
		const tL = cutThreshold(lKey, lTie, s);
		if (M.divide) bad += cutsOneDiv(x, b, dst, delta, s, e, tU, tL, L.scaleValue, L.weight, M.divisors[0]!, M.lambda);
		else bad += cutsOneMul(x, b, dst, delta, s, e, tU, tL, L.scaleValue, L.weight, M.divisors[0]!, M.lambda);
		s = e;
	}
	return bad;
}

/** One lane's contributions over [from, to) into out[0, to − from). */
function fillLane(
	L: Lane,
	x: Float32Array,
	b: Float32Array,
	from: number,
	to: number,
	shift: number,
	cShift: number,
	out: Float64Array,
): void {
	if (L.kind === KIND_RANDOM) {
		randomValues(x, b, from, to, L, cShift, out);
		return;
	}
	if (L.kind === KIND_BITS) {
		bitsValues(x, b, from, to, L, shift, out);
		return;
	}
	if (L.kind === KIND_ALL) {
		allValues(x, b, from, to, L.weight, out);
		return;
	}
	const [uKey, uTie, lKey, lTie] = cutsOf(L, shift);
	for (let s = from; s < to; ) {
		const e = segmentEnd(s, to, uTie, lTie);
		cutsValues(x, b, s, e, cutThreshold(uKey, uTie, s), cutThreshold(lKey, lTie, s), L.scaleValue, L.weight, out, s - from);
		s = e;
	}
}

/**
 * Two models: per sub-block, each model's contributions, then the mix. The output written directly (delta 0), the
 * job's kernel set runs the fills and the mix (compiled ones on the arena's contribution buffers); in place, the
 * TypeScript loops.
 */
function emitTwo(
	kernels: KernelSet,
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
): number {
	const ks = delta === 0 ? kernels : TYPESCRIPT_KERNELS;
	const [c0, c1] = ks.contributions;
	const fill = (m: number, s: number, e: number, out: Float64Array) => {
		if (!ks.fillLane(lanes[m]!, xs[m]!, b, s, e, shift, cShift, out)) fillLane(lanes[m]!, xs[m]!, b, s, e, shift, cShift, out);
	};
	let bad = 0;
	for (let s = from; s < to; s += SUB_BLOCK) {
		const e = Math.min(to, s + SUB_BLOCK);
		fill(0, s, e, c0);
		fill(1, s, e, c1);
		bad += ks.mixTwo(b, dst, s, e, M) ?? mixTwo(b, dst, delta, s, e, c0, c1, M);
	}
	return bad;
}

/** The TypeScript fused loop for M.loop over [from, to) (two models: the kernel set's); the count of non-finite results. */
function emitLoop(
	kernels: KernelSet,
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
): number {
	const L0 = lanes[0]!;
	const x0 = xs[0]!;
	if (M.loop === LOOP_TWO) return emitTwo(kernels, lanes, M, xs, b, dst, delta, from, to, shift, cShift);
	if (M.loop === LOOP_ALL) return allOne(x0, b, dst, delta, from, to, L0.weight, M);
	if (M.loop === LOOP_CUTS) return emitCutsOne(L0, M, x0, b, dst, delta, from, to, shift);
	if (M.loop === LOOP_RANDOM) return randomOne(x0, b, dst, delta, from, to, L0, cShift, M.divisors[0]!, M.lambda);
	return bitsOne(x0, b, dst, delta, from, to, L0, shift, M.divisors[0]!, M.lambda);
}

/**
 * Fused emit of elements [from, to) (element 0 at global index `shift`, random counters at global index +
 * `streamShift`); fusedMixer(M) must hold and pending tie ends must already be located for this block. When `out`
 * is `b` (in place), results go through `tmp` (at least to − from long) so fixUp can still read the base.
 */
export function emitFused(
	kernels: KernelSet,
	lanes: readonly Lane[],
	M: Mixer,
	xs: readonly Float32Array[],
	b: Float32Array,
	out: Float32Array,
	from: number,
	to: number,
	shift: number,
	streamShift: number,
	tmp: Float32Array,
): void {
	const cShift = shift + streamShift;
	const direct = out !== b;
	const dst = direct ? out : tmp;
	const delta = direct ? 0 : -from;
	const L0 = lanes[0]!;
	const x0 = xs[0]!;
	// The kernel set's one-model loop (the output written directly), else the TypeScript loop.
	const bad =
		(direct ? kernels.emitOne(L0, M, x0, b, dst, from, to, shift, cShift) : undefined) ??
		emitLoop(kernels, lanes, M, xs, b, dst, delta, from, to, shift, cShift);
	if (bad > 0) fixUp(lanes, M, xs, b, dst, delta, from, to, shift, cShift);
	if (!direct) out.set(tmp.subarray(0, to - from), from);
}

/** Emit through Terms and combineRange (any number of models and mask kinds); `scratch` from combineScratch. */
export function emitGeneric(
	lanes: readonly Lane[],
	M: Mixer,
	xs: readonly Float32Array[],
	b: Float32Array,
	out: Float32Array,
	from: number,
	to: number,
	shift: number,
	streamShift: number,
	scratch: Float64Array,
): void {
	const terms = lanes.map((L, m): Term => {
		const p = L.plan;
		const x = xs[m]!;
		const scales = { scale: p.scale, scaleValue: p.scaleValue };
		switch (p.kind) {
			case KIND_ZERO:
				return makeTerm(p.weight, x, { mask: MASK_ZERO });
			case KIND_RANDOM:
				return makeTerm(p.weight, x, { mask: MASK_RANDOM, key: p.key, offset: shift + streamShift, threshold: p.threshold, ...scales });
			case KIND_BITS:
				return makeTerm(p.weight, x, { mask: MASK_BITS, keepBits: p.keepBits, bitShift: shift, ...scales });
			case KIND_CUTS: {
				const cuts = {
					upperKey: p.upper!.key,
					upperTieEnd: tieOf(p.upper, shift),
					lowerKey: p.lower?.key ?? NO_LOWER,
					lowerTieEnd: tieOf(p.lower, shift),
				};
				return makeTerm(p.weight, x, { mask: MASK_CUTS, ...cuts, ...scales });
			}
			default:
				return makeTerm(p.weight, x, { scale: SCALE_NONE });
		}
	});
	combineRange(b, terms, M.opts, out, from, to, scratch);
}
