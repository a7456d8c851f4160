import { DEBUG_ASSERTS, debugAssertNoProblem } from "../debug-assert.js";
import { MethodError } from "../errors.js";
import { assertInputs, assertModelCount, combineOffsets, offsetGram } from "../tensor/vector-ops.js";
import { defineMethod } from "./define.js";
import { checkParamValue, paramValueProblem } from "./param-check.js";
import type { NumberParamDef, ParamProblem } from "./types.js";

/** mergekit's default `eps`: added to each norm before dividing and the floor for the weighted mean direction. */
const MULTISLERP_DEFAULT_EPS = 1e-8;
/**
 * With `normalize_weights`, weights whose sum is below this fraction of Σ|wᵢ| would be divided by ~0 (mergekit
 * produces inf/NaN); we refuse instead, with the same relative rule as `linear`.
 */
const MULTISLERP_WEIGHT_SUM_RTOL = 1e-8;

/** The declarations of multislerp's numbers, which multislerp() checks its arguments against. */
const WEIGHT = { type: "number", required: true, description: "Weight of this model" } as const satisfies NumberParamDef;
const EPS = {
	type: "number",
	default: MULTISLERP_DEFAULT_EPS,
	min: 0,
	exclusiveMin: true,
	description: "Stability constant for norms",
} as const satisfies NumberParamDef;

/**
 * Why the weights of two or more models cannot be normalized (their sum is below MULTISLERP_WEIGHT_SUM_RTOL of
 * Σ|wᵢ|), or undefined. The declaration's per-tensor check (the planner runs it) and multislerp()'s entry check.
 */
function multislerpWeightsProblem(weights: readonly number[], normalize: boolean): string | undefined {
	if (!normalize || weights.length < 2) return undefined;
	const sum = weights.reduce((s, x) => s + x, 0);
	const scale = weights.reduce((s, x) => s + Math.abs(x), 0);
	return Math.abs(sum) > MULTISLERP_WEIGHT_SUM_RTOL * scale ? undefined : `weights sum to ${sum}, cannot normalize`;
}

/** multislerpMethod's constraint across models: the weights must not cancel out when normalizing. */
function weightsNormalize(params: { normalize_weights?: boolean }, modelParams: readonly { weight?: number }[]): ParamProblem | undefined {
	const message = multislerpWeightsProblem(
		modelParams.map((mp) => mp.weight ?? Number.NaN),
		params.normalize_weights ?? true,
	);
	return message !== undefined ? { params: ["normalize_weights", "weight"], message } : undefined;
}

/** Options of {@link multislerp}: an optional base (task-vector mode), weight normalization, the stability constant. */
interface MultislerpOptions {
	/** With a base, the task vectors `xᵢ − base` are interpolated and the base is added back. */
	base?: Float32Array;
	/** Divide the weights by their sum first (default true). */
	normalizeWeights?: boolean;
	/** Stability constant (default 1e-8). */
	eps?: number;
	/** Used in error messages. */
	tensorName?: string;
}

/**
 * Barycentric interpolation on the hypersphere (mergekit's multislerp). Each input yᵢ (the task vector with a
 * base) is flattened, projected to the unit sphere as uᵢ = yᵢ/(‖yᵢ‖+eps), and the weighted mean direction
 * m̂ = Σwᵢuᵢ/‖Σwᵢuᵢ‖ is scaled to the weighted mean norm Σwᵢ‖yᵢ‖.
 *
 * mergekit then adds an exponential-map step with the tangent sum τ = Σwᵢ(uᵢ − (uᵢ·m̂)m̂). That sum equals
 * m − (m·m̂)m̂ = 0 exactly, so the step only adds rounding noise; we skip it. Everything is computed from the
 * float64 Gram matrix of the inputs, so the output is one linear combination b + Σcᵢyᵢ written in one pass.
 *
 * If ‖Σwᵢuᵢ‖ < eps: two inputs fall back to w₀y₀ + w₁y₁; all-zero inputs give zeros (the base); otherwise the
 * directions cancel and a MethodError "Numerical" is thrown. The weights and `eps` are checked against the method's
 * declaration, as in a recipe: finite weights that do not cancel out when normalizing, eps > 0 ("InvalidParameter").
 */
export function multislerp(models: readonly Float32Array[], weights: readonly number[], opts: MultislerpOptions = {}): Float32Array {
	const name = opts.tensorName ?? "<input>";
	checkMultislerpInputs(models, weights, opts.base, name);
	for (const [m, w] of weights.entries()) checkParamValue("multislerp", name, "weight", WEIGHT, w, m);
	checkParamValue("multislerp", name, "eps", EPS, opts.eps);
	const problem = multislerpWeightsProblem(weights, opts.normalizeWeights ?? true);
	if (problem !== undefined) throw new MethodError("InvalidParameter", "multislerp", `tensor "${name}": ${problem}`);
	return multislerpKernel(models, weights, opts);
}

/** The inputs' lengths and one weight per model (MethodError "InvalidInput"); returns the length. */
function checkMultislerpInputs(
	models: readonly Float32Array[],
	weights: readonly number[],
	base: Float32Array | undefined,
	name: string,
): number {
	const length = assertInputs("multislerp", name, base, models);
	if (weights.length !== models.length) {
		throw new MethodError("InvalidInput", "multislerp", `tensor "${name}": ${weights.length} weights for ${models.length} models`);
	}
	return length;
}

/** {@link multislerp} on checked arguments (by multislerp(), or by the planner and the method's entry). */
function multislerpKernel(models: readonly Float32Array[], weights: readonly number[], opts: MultislerpOptions): Float32Array {
	const name = opts.tensorName ?? "<input>";
	const eps = opts.eps ?? MULTISLERP_DEFAULT_EPS;
	const base = opts.base;
	const normalize = opts.normalizeWeights ?? true;
	const length = checkMultislerpInputs(models, weights, base, name);
	if (DEBUG_ASSERTS) {
		debugAssertNoProblem(() => {
			const weightsWhy = weights.every(Number.isFinite) ? multislerpWeightsProblem(weights, normalize) : "a weight is not finite";
			const why = paramValueProblem(EPS, eps) ?? weightsWhy;
			return why !== undefined ? `multislerp tensor "${name}": ${why}` : undefined;
		});
	}
	if (models.length === 1) return Float32Array.from(models[0]!);
	const n = models.length;
	let w = weights;
	if (normalize) {
		const sum = weights.reduce((s, x) => s + x, 0);
		w = weights.map((x) => x / sum);
	}
	const gram = offsetGram(models, base);
	const norms = Array.from({ length: n }, (_, i) => Math.sqrt(gram[i * n + i]!));
	const scaled = norms.map((nrm, i) => w[i]! / (nrm + eps));
	let meanSq = 0;
	for (let i = 0; i < n; i++) {
		for (let j = 0; j < n; j++) meanSq += scaled[i]! * scaled[j]! * gram[i * n + j]!;
	}
	const meanNorm = Math.sqrt(Math.max(0, meanSq));
	let coeffs: number[];
	if (!(meanNorm >= eps)) {
		if (n === 2) {
			coeffs = [w[0]!, w[1]!];
		} else if (norms.every((x) => x === 0)) {
			coeffs = new Array<number>(n).fill(0);
		} else {
			throw new MethodError(
				"Numerical",
				"multislerp",
				`tensor "${name}": the weighted directions cancel (‖Σwᵢuᵢ‖ = ${meanNorm}); change the weights`,
			);
		}
	} else {
		const meanLength = norms.reduce((s, nrm, i) => s + w[i]! * nrm, 0);
		coeffs = scaled.map((s) => (s * meanLength) / meanNorm);
	}
	const out = new Float32Array(length);
	combineOffsets(out, models, coeffs, base);
	return out;
}

/** Multi-SLERP: weighted spherical barycentre of any number of models (or task vectors with a base). */
export const multislerpMethod = defineMethod({
	name: "multislerp",
	prettyName: "Multi-SLERP",
	referenceUrl: "https://goddard.blog/posts/multislerp-wow-what-a-cool-idea",
	description:
		"Weighted barycentre on the hypersphere: the weighted mean of the unit directions, renormalized and scaled " +
		"to the weighted mean norm. With a base model it works on task vectors.",
	base: "optional",
	minModels: 2,
	params: {
		normalize_weights: { type: "boolean", default: true, description: "Divide the weights by their sum" },
		eps: EPS,
	},
	modelParams: { weight: WEIGHT },
	checkTensorParams: weightsNormalize,
	merge({ tensorName, shape, base, models, params, modelParams }) {
		assertModelCount("multislerp", tensorName, models.length, 1, Number.POSITIVE_INFINITY);
		assertInputs("multislerp", tensorName, base, models, shape);
		return multislerpKernel(
			models,
			modelParams.map((p) => p.weight),
			{ ...(base !== undefined ? { base } : {}), normalizeWeights: params.normalize_weights, eps: params.eps, tensorName },
		);
	},
});
