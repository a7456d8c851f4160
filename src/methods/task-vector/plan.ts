/**
 * Per-model plans of the task-vector kernel (kernel.ts): validated settings → what each model's term
 * needs (rank cuts to search, a DARE stream, keep bits to record) and, once the scan passes have run, its rescale.
 * The validation order and the branches are those of the sparsifiers in sparsify.ts, so every path throws the same
 * errors and keeps the same entries.
 */
import { DEBUG_ASSERTS, debugAssertNoProblem } from "../../debug-assert.js";
import { MethodError } from "../../errors.js";
import { type RngKey, UNIFORM_SCALE } from "../../tensor/rng.js";
import { modelSettingsProblem } from "./declaration.js";
import { INLINE_HASH_LIMIT } from "./fill.js";
import type { ModelSettings } from "./params.js";
import { RankCutSearch, RankSample, STAGE_DONE } from "./rank-cut-search.js";
import { l1RescaleFactor, outlierRankRange } from "./sparsify.js";
import { SCALE_DIV, SCALE_MUL, SCALE_NONE } from "./term.js";
import type { Rescale, SparsifyMethod, SparsifyWhere } from "./types.js";

/** Every entry kept (no sparsifier or density ≥ 1). */
export const KIND_ALL = 0;
/** Nothing kept (DARE at density ≤ 0, an empty Breadcrumbs range). */
export const KIND_ZERO = 1;
/** DARE: the keep test draws its hash inline. */
export const KIND_RANDOM = 2;
/** TIES / Breadcrumbs: descending-|δ| ranks between the lower and the upper cut. */
export const KIND_CUTS = 3;
/** DARE with the L1 rescale: pass 0 records the keep decisions as bits (and sums both norms). */
export const KIND_BITS = 4;
/** What a model's plan keeps (small integers: the hot loops compare them per block). */
export type PlanKind = typeof KIND_ALL | typeof KIND_ZERO | typeof KIND_RANDOM | typeof KIND_CUTS | typeof KIND_BITS;

/** One model's plan; the fields a kind does not use keep their defaults. */
export interface ModelPlan {
	kind: PlanKind;
	weight: number;
	density: number;
	rescale: Rescale;
	key: RngKey;
	/** Keep when the 32-bit hash is below density·2^32. */
	threshold: number;
	/** KIND_CUTS: the model's key sample (pass 0), its cuts, and its top-digit histogram on the radix route. */
	sample: RankSample | undefined;
	upper: RankCutSearch | undefined;
	lower: RankCutSearch | undefined;
	top: Uint32Array | undefined;
	/** KIND_CUTS with the L1 rescale: whether the kept-norm pass is done. */
	keptDone: boolean;
	/** KIND_BITS: one bit per element (global index g at bit g & 31 of word g >>> 5). */
	keepBits: Int32Array | undefined;
	l1Before: number;
	l1After: number;
	/** SCALE_* and its value, set by {@link finishScale}. */
	scale: number;
	scaleValue: number;
}

function plan(kind: PlanKind, weight: number, fields: Partial<ModelPlan> = {}): ModelPlan {
	return {
		kind,
		weight,
		density: fields.density ?? 1,
		rescale: fields.rescale ?? false,
		key: fields.key ?? { hi: 0, lo: 0 },
		threshold: fields.threshold ?? 0,
		sample: fields.sample,
		upper: fields.upper,
		lower: fields.lower,
		top: undefined,
		keptDone: false,
		keepBits: fields.keepBits,
		l1Before: 0,
		l1After: 0,
		scale: SCALE_NONE,
		scaleValue: 1,
	};
}

/**
 * A model's plan for a tensor of n elements, from its settings (params.ts), which the method's entry or the planner
 * checked against the declaration: this trusts them (LM_MERGE_DEBUG=1 asserts them). Then: the random stream (also
 * for density ≥ 1, so a missing stream is always reported), and the rank range, which depends on n. DELLA has no
 * plan (its ranks are per row; merge.ts handles it whole).
 */
export function planModel(
	sparsify: SparsifyMethod,
	weight: number,
	settings: ModelSettings,
	rescale: Rescale,
	n: number,
	key: () => RngKey,
	where: SparsifyWhere,
): ModelPlan {
	if (DEBUG_ASSERTS) {
		debugAssertNoProblem(() => {
			const why = modelSettingsProblem(sparsify, { weight, ...settings }, n);
			return why !== undefined ? `${where.method} tensor "${where.tensorName}": ${why}` : undefined;
		});
	}
	const { density, gamma } = settings;
	if (sparsify === "none" || density >= 1) {
		if (sparsify === "random") key();
		return plan(KIND_ALL, weight);
	}
	if (sparsify === "magnitude" || sparsify === "magnitude_outliers") {
		const range = sparsify === "magnitude" ? { lo: 0, hi: Math.floor(density * n) } : outlierRankRange(n, density, gamma);
		// An empty range (possible for odd breadcrumbs settings) drops everything, like DARE at density 0.
		if (range.hi <= 0) return plan(KIND_ZERO, weight);
		const upper = new RankCutSearch(range.hi, n);
		const lower = range.lo > 0 ? new RankCutSearch(range.lo, n) : undefined;
		return plan(KIND_CUTS, weight, { density, rescale, sample: new RankSample(n), upper, lower });
	}
	if (sparsify !== "random") {
		throw new MethodError("InvalidParameter", where.method, `tensor "${where.tensorName}": ${sparsify} has no streamed form`);
	}
	const k = key();
	if (density <= 0) return plan(KIND_ZERO, weight);
	const threshold = density * UNIFORM_SCALE;
	if (rescale !== true) return plan(KIND_RANDOM, weight, { density, rescale, key: k, threshold });
	return plan(KIND_BITS, weight, { density, rescale, key: k, threshold, keepBits: new Int32Array(Math.ceil(n / 32)) });
}

/** Whether DARE's keep test can use the inline hash for counters [first, last] (the reference path otherwise). */
export function inlineDraws(threshold: number, first: number, last: number): boolean {
	return first >= 0 && last < INLINE_HASH_LIMIT && Math.ceil(threshold) <= 0xffffffff;
}

/** Sets the rescale of a finished plan from the norms the scans summed (÷density, or ×‖δ‖₁/‖m⊙δ‖₁). */
export function finishScale(p: ModelPlan): void {
	if (p.kind !== KIND_CUTS && p.kind !== KIND_RANDOM && p.kind !== KIND_BITS) return;
	if (p.rescale === "inverse_density") {
		if (p.density > 0) {
			p.scale = SCALE_DIV;
			p.scaleValue = p.density;
		}
	} else if (p.rescale) {
		const factor = l1RescaleFactor(p.l1Before, p.l1After);
		if (factor !== undefined) {
			p.scale = SCALE_MUL;
			p.scaleValue = factor;
		}
	}
}

/** Whether the model's rank cuts are all found (then the kept-norm pass and the combine can run). */
export function cutsDone(p: ModelPlan): boolean {
	return p.upper!.stage === STAGE_DONE && (p.lower === undefined || p.lower.stage === STAGE_DONE);
}
