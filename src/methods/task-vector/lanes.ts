/**
 * The per-model and combine values the fused emit loops read (loops.ts), resolved once per tensor from
 * the finished plans: lanes (one per model, one shape for every kind) and the mixer (which loop, and the divisors
 * of the disjoint mean by agreeing models). Also the exact per-element contribution, for the values the fused loops
 * leave to the definition.
 */
import { counterHash, counterHiMix } from "../../tensor/rng.js";
import type { RankCutSearch } from "./rank-cut-search.js";
import type { CombineOptions } from "./combine.js";
import { cutKeepExact, flag, keepIf, weighed } from "./fill.js";
import { inlineDraws, KIND_ALL, KIND_BITS, KIND_CUTS, KIND_RANDOM, type ModelPlan } from "./plan.js";
import { NO_LOWER, SCALE_DIV, SCALE_MUL, SCALE_NONE } from "./term.js";

/** One model as the emit loops read it (a single shape for every kind). */
export interface Lane {
	kind: number;
	w: number;
	scale: number;
	sv: number;
	upper: RankCutSearch | undefined;
	lower: RankCutSearch | undefined;
	kLo: number;
	kHi: number;
	hiMix: number;
	limit: number;
	bits: Int32Array | undefined;
	plan: ModelPlan;
}

/** Which fused loops a kernel uses (LOOP_NONE: the generic path). */
export const LOOP_NONE = 0;
export const LOOP_CUTS = 1;
export const LOOP_RANDOM = 2;
export const LOOP_BITS = 3;
export const LOOP_ALL = 4;
/** Two models of any fusable kinds: per-model fills, then one mixing loop. */
export const LOOP_TWO = 5;

/** The upper cut of a lane without one: key −1 selects every magnitude. */
export const ALL_KEYS = -1;

/**
 * The combine, resolved for the fused loops: q = mixed × T[idx] (reciprocals, when every divisor is a power of two
 * or there is none) or mixed / T[idx] (`divide`), then × λ. idx = a0 + 2·a1 for two models with consensus (which
 * models agree), 3 without (both count), 0 for one model.
 */
export interface Mixer {
	loop: number;
	/** 1 with consensus, 0 without. */
	cm: number;
	divide: boolean;
	T: Float64Array;
	lambda: number;
	opts: CombineOptions;
}

/** float64 ↔ bits of one value, for {@link powerOfTwo}. */
const oneDouble = new Float64Array(1);
const doubleWords = new Uint32Array(oneDouble.buffer);

/**
 * Whether v is ± a power of two with |exponent| ≤ maxExponent (default 960), read from its bits (zero mantissa):
 * then 1/v is exact and x·(1/v) equals x / v for every x (both are the exact quotient, rounded once).
 */
export function powerOfTwo(v: number, maxExponent = 960): boolean {
	oneDouble[0] = v;
	const hi = doubleWords[1]!;
	const exponent = ((hi >>> 20) & 0x7ff) - 1023;
	return doubleWords[0] === 0 && (hi & 0xfffff) === 0 && Math.abs(exponent) <= maxExponent;
}

/** A plan's lane; `streamShift` + global index is the random counter, for a tensor of n elements. */
export function laneOf(p: ModelPlan, streamShift: number, n: number): Lane {
	let { scale, scaleValue: sv } = p;
	if (scale === SCALE_DIV && powerOfTwo(sv)) {
		scale = SCALE_MUL;
		sv = 1 / sv;
	}
	if (scale === SCALE_NONE) sv = 1;
	const random = p.kind === KIND_RANDOM;
	return {
		kind: random && !inlineDraws(p.threshold, streamShift, streamShift + n - 1) ? -1 : p.kind,
		w: p.weight,
		scale,
		sv,
		upper: p.upper,
		lower: p.lower,
		kLo: p.key.lo,
		kHi: p.key.hi,
		hiMix: counterHiMix(p.key),
		limit: Math.ceil(p.threshold),
		bits: p.keepBits,
		plan: p,
	};
}

/** Whether the fused loops handle these lanes (otherwise emitGeneric). */
export function fusedMixer(M: Mixer): boolean {
	return M.loop !== LOOP_NONE;
}

/** The fused loop for these lanes and its combine values, or loop LOOP_NONE for the generic path. */
export function mixerOf(lanes: readonly Lane[], opts: CombineOptions): Mixer {
	const { consensus, normalize, lambda, divisor } = opts;
	const count = lanes.length;
	// Divisors by agreeing models, as combineOne / combineTwo compute them (a zero divisor counts as 1).
	const D = new Float64Array(4).fill(1);
	if (normalize && count === 1) D[0] = consensus ? lanes[0]!.w || 1 : divisor;
	if (normalize && count === 2) {
		for (let idx = 1; idx < 4; idx++) D[idx] = consensus ? 0 + lanes[0]!.w * (idx & 1) + lanes[1]!.w * (idx >> 1) || 1 : divisor;
	}
	// (every() passes the index as a second argument, which powerOfTwo would take for its exponent bound.)
	const divide = !D.every((d) => powerOfTwo(d));
	const T = divide ? D : D.map((d) => 1 / d);
	const finite = [...D, lambda, divisor, ...lanes.map((l) => l.w), ...lanes.map((l) => l.sv)].every(Number.isFinite);
	const scaled = lanes.every((l) => l.scale !== SCALE_DIV);
	const fusable = (l: Lane) => l.kind === KIND_ALL || l.kind === KIND_CUTS || l.kind === KIND_RANDOM || l.kind === KIND_BITS;
	let loop = LOOP_NONE;
	if (finite && scaled && count === 2 && lanes.every(fusable)) loop = LOOP_TWO;
	if (finite && scaled && count === 1) {
		const kind = lanes[0]!.kind;
		if (kind === KIND_ALL) loop = LOOP_ALL;
		else if (kind === KIND_CUTS) loop = LOOP_CUTS;
		else if (kind === KIND_RANDOM && !divide) loop = LOOP_RANDOM;
		else if (kind === KIND_BITS && !divide) loop = LOOP_BITS;
	}
	return { loop, cm: consensus ? 1 : 0, divide, T, lambda, opts };
}

/** The effective tie end of a cut for the current block, as an array index (pending: past the block). */
export function tieOf(cut: RankCutSearch | undefined, shift: number): number {
	if (cut === undefined) return 0;
	return (cut.tiePending ? Number.POSITIVE_INFINITY : cut.tieEnd) - shift;
}

/** Model `L`'s contribution w·scale(mask(δ)) at array index i, by the definition (any δ, including NaN and ±∞). */
export function exactValue(L: Lane, d: number, i: number, shift: number, cShift: number): number {
	let kept = d;
	if (L.kind === KIND_CUTS) {
		kept = cutKeepExact(d, i, L.upper!.key, tieOf(L.upper, shift), L.lower?.key ?? NO_LOWER, tieOf(L.lower, shift));
	} else if (L.kind === KIND_RANDOM) {
		kept = keepIf(d, flag(counterHash(i + cShift, L.kLo, L.kHi, L.hiMix) >>> 0 < L.limit));
	} else if (L.kind === KIND_BITS) {
		const g = i + shift;
		kept = keepIf(d, (L.bits![g >>> 5]! >>> (g & 31)) & 1);
	}
	return weighed(kept, L.scale, L.sv, L.w);
}
