/**
 * mergekit's linear merge and passthrough in the recipe's dtype (linear.py, passthrough.py):
 *
 *   w = torch.tensor(weights, dtype=D)             (each weight rounded to D)
 *   out = Σᵢ wᵢ·xᵢ                                 (each product rounded to D; the model-axis sum in float32, rounded)
 *   normalize: out = out / Σᵢ wᵢ                   (the weight sum rounded to D, then a D division)
 */
import { MethodError } from "../../errors.js";
import type { MergeContext } from "../types.js";
import { modelAxisSum } from "./reductions.js";
import { type CompatDtype, TorchFloat } from "./torch-float.js";
import { booleanParam, type CompatInput, type CompatKernel } from "./types.js";

/** Linear in place into models[0], which is returned. Weights summing to 0 in D with `normalize` are refused. */
function linearCompat(
	models: Float32Array[],
	weights: readonly number[],
	normalize: boolean,
	dtype: CompatDtype,
	tensorName = "(tensor)",
): Float32Array {
	const math = new TorchFloat(dtype);
	const w = weights.map((x) => math.fromDouble(x));
	const divisor = math.round(modelAxisSum(w));
	if (normalize && divisor === 0) {
		// mergekit divides by zero and writes inf/NaN; like the float32 path, refuse instead.
		throw new MethodError(
			"InvalidParameter",
			"linear",
			`tensor "${tensorName}": the weights sum to 0 in ${dtype} (mergekit would write inf/NaN)`,
		);
	}
	const out = models[0]!;
	const terms = new Array<number>(models.length).fill(0);
	for (let i = 0; i < out.length; i++) {
		for (let m = 0; m < models.length; m++) terms[m] = math.mul(w[m]!, models[m]![i]!);
		const sum = math.round(modelAxisSum(terms));
		out[i] = normalize ? math.div(sum, divisor) : sum;
	}
	return out;
}

export const linearCompatKernel: CompatKernel = {
	method: "linear",
	outputDtype: (dtype) => dtype,
	merge(input: CompatInput, _ctx: MergeContext): Float32Array {
		const weights = input.modelParams.map((mp) => (typeof mp.weight === "number" ? mp.weight : Number.NaN));
		return linearCompat(input.models, weights, booleanParam(input.params, "normalize", true), input.dtype, input.tensorName);
	},
};

/** passthrough: the tensor, times `scale` (a Python float used as float32) when one is set. */
export const passthroughCompatKernel: CompatKernel = {
	method: "passthrough",
	outputDtype: (dtype) => dtype,
	merge(input: CompatInput): Float32Array {
		const x = input.base ?? input.models[0]!;
		const scale = input.modelParams[0]?.scale;
		if (typeof scale !== "number") return x;
		const math = new TorchFloat(input.dtype);
		const s = math.scalar(scale);
		for (let i = 0; i < x.length; i++) x[i] = math.mul(x[i]!, s);
		return x;
	},
};
