import { DEBUG_ASSERTS, debugAssert } from "../debug-assert.js";
import { MethodError } from "../errors.js";
import { topKAbsMask } from "../tensor/ops.js";
import { assertInputs } from "../tensor/vector-ops.js";
import { defineMethod } from "./define.js";
import { checkParamValue, paramValueProblem } from "./param-check.js";
import type { NumberParamDef } from "./types.js";

/** Below this Σ mean(τᵢ²) the models barely moved: mergekit then weights them equally (1/N), and so do we. */
const SCE_WEIGHT_SUM_EPS = 1e-6;
/** mergekit's floor for the per-entry divisor Σ ωᵢ·maskᵢ (entries no model may write keep the base). */
const SCE_DIVISOR_MIN = 1e-6;

/** Options of {@link sce}: how many entries (by variance across models) it keeps. */
interface SceOptions {
	/** Fraction of the nonzero-variance entries to keep, in (0, 1] (default 1: no selection). */
	selectTopk?: number;
	/** Used in error messages. */
	tensorName?: string;
}

/**
 * The selection mask of SCE: the floor(nz·topk) entries with the largest variance of the task vectors across
 * models (population variance; nz = entries with nonzero variance). Ties go to the lower index.
 */
export function sceSelectMask(base: Float32Array, models: readonly Float32Array[], selectTopk: number): Uint8Array {
	const n = models.length;
	const variance = new Float32Array(base.length);
	let nonzero = 0;
	for (let k = 0; k < base.length; k++) {
		const b = base[k]!;
		let mean = 0;
		for (let i = 0; i < n; i++) mean += models[i]![k]! - b;
		mean /= n;
		let v = 0;
		for (let i = 0; i < n; i++) {
			const d = models[i]![k]! - b - mean;
			v += d * d;
		}
		variance[k] = v / n;
		if (variance[k] !== 0) nonzero++;
	}
	return topKAbsMask(variance, Math.floor(nonzero * selectTopk));
}

/** The declaration of `select_topk` (sceMethod's parameter), which sce() checks its `selectTopk` against. */
const SELECT_TOPK = {
	type: "number",
	default: 1,
	min: 0,
	exclusiveMin: true,
	max: 1,
	description: "Fraction of the highest-variance entries to keep",
} as const satisfies NumberParamDef;

/**
 * SCE (select, calculate, erase): task vectors τᵢ = xᵢ − b, optionally restricted to the highest-variance
 * entries; weights ωᵢ ∝ mean(τᵢ²); entries whose sign disagrees with the sign of Στᵢ are erased; the
 * result is b + Σ ωᵢ·maskᵢ·τᵢ / max(Σ ωᵢ·maskᵢ, 1e-6). Three passes, one n-sized mask at most. `selectTopk` must
 * lie in (0, 1], as in a recipe (MethodError "InvalidParameter").
 */
export function sce(base: Float32Array, models: readonly Float32Array[], opts: SceOptions = {}): Float32Array {
	const name = opts.tensorName ?? "<input>";
	checkParamValue("sce", name, "select_topk", SELECT_TOPK, opts.selectTopk);
	return sceKernel(base, models, opts.selectTopk ?? 1, name);
}

/** {@link sce} with a checked `topk` (by sce(), or by the planner and the method's entry; LM_MERGE_DEBUG=1 asserts it). */
function sceKernel(base: Float32Array, models: readonly Float32Array[], topk: number, name: string): Float32Array {
	const length = assertInputs("sce", name, base, models);
	if (DEBUG_ASSERTS) {
		debugAssert(paramValueProblem(SELECT_TOPK, topk) === undefined, () => `sce tensor "${name}": select_topk = ${topk} is outside (0, 1]`);
	}
	const n = models.length;
	if (n === 0 || length === 0) return Float32Array.from(base);
	const select = topk < 1 ? sceSelectMask(base, models, topk) : undefined;
	const tau = (i: number, k: number): number => (select === undefined || select[k] === 1 ? models[i]![k]! - base[k]! : 0);
	// ωᵢ = mean of τᵢ² over the tensor, normalized to sum 1 (equal weights when all are ~0).
	const omega = new Array<number>(n).fill(0);
	for (let k = 0; k < length; k++) {
		for (let i = 0; i < n; i++) omega[i]! += tau(i, k) ** 2;
	}
	const means = omega.map((s) => s / length);
	const total = means.reduce((s, x) => s + x, 0);
	const weights = Math.abs(total) < SCE_WEIGHT_SUM_EPS ? means.map(() => 1 / n) : means.map((x) => x / total);
	const out = new Float32Array(length);
	const t = new Float64Array(n);
	for (let k = 0; k < length; k++) {
		let sum = 0;
		for (let i = 0; i < n; i++) {
			t[i] = tau(i, k);
			sum += t[i]!;
		}
		const majority = sum >= 0 ? 1 : -1;
		let num = 0;
		let den = 0;
		for (let i = 0; i < n; i++) {
			if (Math.sign(t[i]!) === majority) {
				num += weights[i]! * t[i]!;
				den += weights[i]!;
			}
		}
		out[k] = base[k]! + num / Math.max(den, SCE_DIVISOR_MIN);
	}
	return out;
}

/** SCE (FuseChat 2.0): variance-based selection, magnitude-based weights, sign-consensus erasure. */
export const sceMethod = defineMethod({
	name: "sce",
	prettyName: "SCE",
	referenceUrl: "https://arxiv.org/abs/2408.07990",
	description:
		"Select the task-vector entries with the highest variance across models, weight each model by its mean " +
		"squared task vector, erase entries against the majority sign, and average the rest. Like mergekit it " +
		"ignores per-model weights.",
	base: "required",
	minModels: 1,
	params: {
		select_topk: SELECT_TOPK,
		int8_mask: { type: "boolean", default: false, description: "Accepted for mergekit compatibility; no effect" },
	},
	modelParams: {},
	ignoredModelParams: ["weight"],
	merge({ tensorName, base, models, params }) {
		if (base === undefined) {
			throw new MethodError("InvalidInput", "sce", `tensor "${tensorName}": a base model is required`);
		}
		return sceKernel(base, models, params.select_topk ?? 1, tensorName);
	},
});
