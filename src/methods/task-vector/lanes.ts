/**
 * The per-model and combine values the fused emit loops read (loops.ts), resolved once per tensor from
 * the finished plans: lanes (one per model, one shape for every kind) and the mixer (which loop, and the divisors
 * of the disjoint mean by agreeing models). Also the exact per-element contribution, for the values the fused loops
 * leave to the definition.
 */
import { counterHash, counterHiMix } from "../../tensor/rng.js";
import type { CombineOptions } from "./combine.js";
import { cutKeepExact, flag, keepIf, weighed } from "./fill.js";
import { inlineDraws, KIND_ALL, KIND_BITS, KIND_CUTS, KIND_RANDOM, type ModelPlan, type PlanKind } from "./plan.js";
import type { RankCutSearch } from "./rank-cut-search.js";
import { NO_LOWER, SCALE_DIV, SCALE_MUL, SCALE_NONE } from "./term.js";

/** One model as the emit loops read it (a single shape for every kind). */
export interface Lane {
	/** The plan's KIND_*, or LANE_GENERIC (DARE draws past the inline hash's range: only the generic path). */
	kind: PlanKind | typeof LANE_GENERIC;
	weight: number;
	/** SCALE_* and its value (1 without a rescale; a power-of-two ÷density becomes a × by its reciprocal). */
	scale: number;
	scaleValue: number;
	upper: RankCutSearch | undefined;
	lower: RankCutSearch | undefined;
	/** DARE: the stream key's words, its high word premixed (counterHiMix), and "keep when hash < keepLimit". */
	keyLo: number;
	keyHi: number;
	keyHiMix: number;
	keepLimit: number;
	/** DARE with the L1 rescale: the keep bits recorded by the scan. */
	bits: Int32Array | undefined;
	plan: ModelPlan;
}

/** A lane only the generic path runs: DARE whose random counters leave the inline hash's range. */
const LANE_GENERIC = -1;

/** Which fused loops a kernel uses (LOOP_NONE: the generic path). */
const LOOP_NONE = 0;
export const LOOP_CUTS = 1;
export const LOOP_RANDOM = 2;
export const LOOP_BITS = 3;
export const LOOP_ALL = 4;
/** Two models of any fusable kinds: per-model fills, then one mixing loop. */
export const LOOP_TWO = 5;
/** Which fused loop a mixer runs (small integers, compared per block). */
type FusedLoop = typeof LOOP_NONE | typeof LOOP_CUTS | typeof LOOP_RANDOM | typeof LOOP_BITS | typeof LOOP_ALL | typeof LOOP_TWO;

/** The upper cut of a lane without one: key −1 selects every magnitude. */
export const ALL_KEYS = -1;

/**
 * The combine, resolved for the fused loops: q = mixed × divisors[idx] (reciprocals, when every divisor is a power of
 * two or there is none) or mixed / divisors[idx] (`divide`), then × λ. idx = a0 + 2·a1 for two models with consensus (which
 * models agree), 3 without (both count), 0 for one model.
 */
export interface Mixer {
	loop: FusedLoop;
	/** Sign election (consensus "sum"). */
	elect: boolean;
	/** Whether `divisors` holds divisors to divide by (else reciprocals to multiply by). */
	divide: boolean;
	/** Four divisors (or reciprocals), by which models agree: index a0 + 2·a1; 3 without election, 0 for one model. */
	divisors: Float64Array;
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
	let { scale, scaleValue } = p;
	if (scale === SCALE_DIV && powerOfTwo(scaleValue)) {
		scale = SCALE_MUL;
		scaleValue = 1 / scaleValue;
	}
	if (scale === SCALE_NONE) scaleValue = 1;
	const random = p.kind === KIND_RANDOM;
	return {
		kind: random && !inlineDraws(p.threshold, streamShift, streamShift + n - 1) ? LANE_GENERIC : p.kind,
		weight: p.weight,
		scale,
		scaleValue,
		upper: p.upper,
		lower: p.lower,
		keyLo: p.key.lo,
		keyHi: p.key.hi,
		keyHiMix: counterHiMix(p.key),
		keepLimit: Math.ceil(p.threshold),
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
	if (normalize && count === 1) D[0] = consensus ? lanes[0]!.weight || 1 : divisor;
	if (normalize && count === 2) {
		for (let idx = 1; idx < 4; idx++) D[idx] = consensus ? 0 + lanes[0]!.weight * (idx & 1) + lanes[1]!.weight * (idx >> 1) || 1 : divisor;
	}
	// (every() passes the index as a second argument, which powerOfTwo would take for its exponent bound.)
	const divide = !D.every((d) => powerOfTwo(d));
	const divisors = divide ? D : D.map((d) => 1 / d);
	const finite = [...D, lambda, divisor, ...lanes.map((l) => l.weight), ...lanes.map((l) => l.scaleValue)].every(Number.isFinite);
	const scaled = lanes.every((l) => l.scale !== SCALE_DIV);
	const fusable = (l: Lane) => l.kind === KIND_ALL || l.kind === KIND_CUTS || l.kind === KIND_RANDOM || l.kind === KIND_BITS;
	let loop: FusedLoop = LOOP_NONE;
	if (finite && scaled && count === 2 && lanes.every(fusable)) loop = LOOP_TWO;
	if (finite && scaled && count === 1) {
		const kind = lanes[0]!.kind;
		if (kind === KIND_ALL) loop = LOOP_ALL;
		else if (kind === KIND_CUTS) loop = LOOP_CUTS;
		else if (kind === KIND_RANDOM && !divide) loop = LOOP_RANDOM;
		else if (kind === KIND_BITS && !divide) loop = LOOP_BITS;
	}
	return { loop, elect: consensus, divide, divisors, lambda, opts };
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
		kept = keepIf(d, flag(counterHash(i + cShift, L.keyLo, L.keyHi, L.keyHiMix) >>> 0 < L.keepLimit));
	} else if (L.kind === KIND_BITS) {
		const g = i + shift;
		kept = keepIf(d, (L.bits![g >>> 5]! >>> (g & 31)) & 1);
	}
	return weighed(kept, L.scale, L.scaleValue, L.weight);
}
