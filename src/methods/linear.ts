import { DEBUG_ASSERTS, debugAssertNoProblem } from "../debug-assert.js";
import { MethodError } from "../errors.js";
import { defineMethod } from "./define.js";
import { mayWriteInputs } from "./in-place.js";
import { checkParamValue } from "./param-check.js";
import type { NumberParamDef, ParamProblem } from "./types.js";

/**
 * Normalizing divides by Σ wᵢ; a sum below this fraction of Σ |wᵢ| means the weights cancel out (mergekit would
 * emit inf/NaN), so it is refused instead.
 */
export const LINEAR_MIN_RELATIVE_WEIGHT_SUM = 1e-8;

/**
 * With `normalize`, weights whose largest magnitude is above this (or below its inverse) are first scaled to about 1:
 * w·x then cannot overflow float64 for any float32 x (|x| < 2^128, and 2^768 · 2^128 · the number of models stays far
 * below 2^1024), nor lose precision to subnormal products.
 */
const LINEAR_RESCALE_ABOVE = 2 ** 768;

/** Options of {@link linear}. */
interface LinearOptions {
	/** Divide by Σ wᵢ; default true. */
	normalize?: boolean;
	/** For error messages. */
	tensorName?: string;
}

/** Elements per block of the many-model path: the float64 partial sums stay in L1 cache. */
const LINEAR_BLOCK = 2048;

/** The declaration of a model's weight (linearMethod's modelParams). */
const WEIGHT = { type: "number", required: true, description: "Weight of this model in the average." } as const satisfies NumberParamDef;

/**
 * The weights normalizing divides by: near the float64 limits (1e308, 1e308) they overflow their products or their
 * sum, so above LINEAR_RESCALE_ABOVE (or below its inverse) they are scaled by a power of two first (exact;
 * normalizing only uses their ratios). Ordinary weights are returned as they are, keeping their arithmetic and bits.
 */
function normalizingWeights(weights: readonly number[]): readonly number[] {
	const largest = Math.max(...weights.map(Math.abs));
	if (!(largest > LINEAR_RESCALE_ABOVE || (largest > 0 && largest < 1 / LINEAR_RESCALE_ABOVE))) return weights;
	const scale = 2 ** -Math.floor(Math.log2(largest));
	return weights.map((w) => w * scale);
}

/** Σ wᵢ and Σ |wᵢ| in float64. */
function weightSums(weights: readonly number[]): { total: number; magnitude: number } {
	let total = 0;
	let magnitude = 0;
	for (const w of weights) {
		total += w;
		magnitude += Math.abs(w);
	}
	return { total, magnitude };
}

/**
 * Why finite weights cannot be normalized (their sum is below LINEAR_MIN_RELATIVE_WEIGHT_SUM of Σ|wᵢ|, after the
 * rescale of {@link normalizingWeights}), or undefined. The declaration's per-tensor check (the planner runs it
 * for every tensor) and linear()'s entry check.
 */
function linearWeightsProblem(weights: readonly number[], normalize: boolean): string | undefined {
	if (!normalize || weights.length === 0) return undefined;
	const { total, magnitude } = weightSums(normalizingWeights(weights));
	if (Math.abs(total) > LINEAR_MIN_RELATIVE_WEIGHT_SUM * magnitude) return undefined;
	return `weights sum to 0 (${weights.join(", ")}), cannot normalize`;
}

/** linearMethod's constraint across models: the weights must not cancel out when normalizing. */
function weightsNormalize(params: { normalize?: boolean }, modelParams: readonly { weight?: number }[]): ParamProblem | undefined {
	const message = linearWeightsProblem(
		modelParams.map((mp) => mp.weight ?? Number.NaN),
		params.normalize ?? true,
	);
	return message !== undefined ? { params: ["normalize", "weight"], message } : undefined;
}

/**
 * Weighted average out = Σ wᵢ·xᵢ (÷ Σ wᵢ when normalizing). Sums run in float64 and are rounded once, so merging a
 * model with itself reproduces it bit for bit. Weights are checked against the method's declaration: a non-finite
 * weight, or weights summing to zero with `normalize`, throw "InvalidParameter". The arguments are not modified.
 */
export function linear(models: readonly Float32Array[], weights: readonly number[], opts: LinearOptions = {}): Float32Array {
	const tensor = opts.tensorName ?? "(tensor)";
	checkLinearInputs(models, weights, tensor);
	for (const [m, w] of weights.entries()) checkParamValue("linear", tensor, "weight", WEIGHT, w, m);
	const problem = linearWeightsProblem(weights, opts.normalize ?? true);
	if (problem !== undefined) throw new MethodError("InvalidParameter", "linear", `tensor "${tensor}": ${problem}`);
	return linearKernel(models, weights, opts, false);
}

/** Throws MethodError "InvalidInput" unless there is one weight per model (at least one) and the lengths agree. */
function checkLinearInputs(models: readonly Float32Array[], weights: readonly number[], tensor: string): void {
	const count = models.length;
	if (count === 0 || weights.length !== count) {
		throw new MethodError("InvalidInput", "linear", `tensor "${tensor}": ${weights.length} weights for ${count} models`);
	}
	const n = models[0]!.length;
	for (let m = 1; m < count; m++) {
		if (models[m]!.length !== n) {
			throw new MethodError("InvalidInput", "linear", `tensor "${tensor}": model ${m} has ${models[m]!.length} elements, model 0 has ${n}`);
		}
	}
}

/**
 * {@link linear} on checked weights (by linear(), or by the planner and the method's entry); with `inPlace` the
 * result is written into `models[0]`. LM_MERGE_DEBUG=1 asserts the weights.
 */
function linearKernel(models: readonly Float32Array[], weights: readonly number[], opts: LinearOptions, inPlace: boolean): Float32Array {
	const normalize = opts.normalize ?? true;
	if (DEBUG_ASSERTS) {
		debugAssertNoProblem(() =>
			weights.every(Number.isFinite) ? linearWeightsProblem(weights, normalize) : `weights ${weights.join(", ")} are not all finite`,
		);
	}
	const count = models.length;
	const n = models[0]!.length;
	if (normalize) weights = normalizingWeights(weights);
	const { total } = weightSums(weights);
	// Per element: s = w₀x₀ + w₁x₁ + … in model order (float64), then ÷ total; one rounding to float32 on store.
	const divisor = normalize ? total : 1;
	const x0 = models[0]!;
	const w0 = weights[0]!;
	if (count <= 2) {
		// Computed in place in `out`, which starts as a copy of x₀ unless x₀ may be overwritten.
		const out = inPlace ? x0 : x0.slice();
		if (count === 1) {
			for (let i = 0; i < n; i++) out[i] = (w0 * out[i]!) / divisor;
		} else {
			weightedPairInPlace(out, models[1]!, w0, weights[1]!, divisor);
		}
		return out;
	}
	const out = inPlace ? x0 : new Float32Array(n);
	const acc = new Float64Array(LINEAR_BLOCK);
	for (let start = 0; start < n; start += LINEAR_BLOCK) {
		const len = Math.min(LINEAR_BLOCK, n - start);
		for (let j = 0; j < len; j++) acc[j] = w0 * x0[start + j]!;
		for (let m = 1; m < count; m++) {
			const x = models[m]!;
			const w = weights[m]!;
			for (let j = 0; j < len; j++) acc[j] = acc[j]! + w * x[start + j]!;
		}
		for (let j = 0; j < len; j++) out[start + j] = acc[j]! / divisor;
	}
	return out;
}

/**
 * x0[i] = (w0·x0[i] + w1·x1[i]) / divisor in float64, rounded once to float32. Unrolled by 4 (V8 does not unroll;
 * the loop overhead is a large share of so small a body). When the divisor is a power of two the division is a
 * multiplication by its exact reciprocal (same value, see exactReciprocal), which is cheaper.
 */
function weightedPairInPlace(x0: Float32Array, x1: Float32Array, w0: number, w1: number, divisor: number): void {
	const n = x0.length;
	const r = exactReciprocal(divisor);
	let i = 0;
	if (r === undefined) {
		for (; i + 4 <= n; i += 4) {
			x0[i] = (w0 * x0[i]! + w1 * x1[i]!) / divisor;
			x0[i + 1] = (w0 * x0[i + 1]! + w1 * x1[i + 1]!) / divisor;
			x0[i + 2] = (w0 * x0[i + 2]! + w1 * x1[i + 2]!) / divisor;
			x0[i + 3] = (w0 * x0[i + 3]! + w1 * x1[i + 3]!) / divisor;
		}
	} else {
		for (; i + 4 <= n; i += 4) {
			x0[i] = (w0 * x0[i]! + w1 * x1[i]!) * r;
			x0[i + 1] = (w0 * x0[i + 1]! + w1 * x1[i + 1]!) * r;
			x0[i + 2] = (w0 * x0[i + 2]! + w1 * x1[i + 2]!) * r;
			x0[i + 3] = (w0 * x0[i + 3]! + w1 * x1[i + 3]!) * r;
		}
	}
	for (; i < n; i++) x0[i] = (w0 * x0[i]! + w1 * x1[i]!) / divisor;
}

const f64Bits = new Float64Array(1);
const f64Words = new Uint32Array(f64Bits.buffer);

/**
 * 1/d when d = ±2^k with −1022 ≤ k ≤ 1022: then d and 1/d are both exact normal doubles, s / d and s · (1/d) are the
 * same real number, and rounding it once gives the same double for every s (±0, ±Inf, NaN and subnormal results
 * included). Undefined for any other d.
 */
export function exactReciprocal(d: number): number | undefined {
	f64Bits[0] = d;
	const hi = f64Words[1]!;
	const exponent = (hi >>> 20) & 0x7ff;
	const powerOfTwo = f64Words[0] === 0 && (hi & 0xfffff) === 0;
	return powerOfTwo && exponent >= 1 && exponent <= 2045 ? 1 / d : undefined;
}

/** Linear: the weighted average of the models ("model soup"). */
export const linearMethod = defineMethod({
	name: "linear",
	prettyName: "Linear",
	referenceUrl: "https://arxiv.org/abs/2203.05482",
	description: "Weighted average of the input models: Σ wᵢ·xᵢ, divided by Σ wᵢ when `normalize` is set.",
	base: "none",
	minModels: 1,
	params: {
		normalize: { type: "boolean", default: true, description: "Divide by the sum of the weights." },
	},
	modelParams: { weight: WEIGHT },
	checkTensorParams: weightsNormalize,
	elementwise: () => true,
	merge(input) {
		const { tensorName, models, params, modelParams } = input;
		const weights = modelParams.map((mp) => mp.weight);
		checkLinearInputs(models, weights, tensorName);
		return linearKernel(models, weights, { normalize: params.normalize, tensorName }, mayWriteInputs(input));
	},
});
