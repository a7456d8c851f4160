import { DEBUG_ASSERTS, debugAssert } from "../debug-assert.js";
import { MethodError } from "../errors.js";
import { assertInputs, assertModelCount } from "../tensor/vector-ops.js";
import { defineMethod } from "./define.js";
import { checkParamValue, paramValueProblem } from "./param-check.js";
import type { NumberParamDef } from "./types.js";

/** Floor for |base − x| before dividing: identical entries then get weight clamp(t/1e-6) = 1 instead of t/0. */
export const NEARSWAP_DIFF_EPS = 1e-6;

/** The declaration of `t` (nearswapMethod's parameter), which nearswap() checks its `t` against. */
const T = {
	type: "number",
	required: true,
	min: 0,
	exclusiveMin: true,
	description: "Sameness threshold (> 0)",
} as const satisfies NumberParamDef;

/**
 * NearSwap: per element, w = clamp(t / max(|b − x|, 1e-6), 0, 1) and out = w·x + (1 − w)·b. Entries where the
 * model is within `t` of the base take the model's value; far-apart entries stay close to the base. t must be
 * finite and > 0, as in a recipe (MethodError "InvalidParameter").
 */
export function nearswap(base: Float32Array, model: Float32Array, t: number, tensorName = "<input>"): Float32Array {
	checkParamValue("nearswap", tensorName, "t", T, t);
	return nearswapKernel(base, model, t, tensorName);
}

/** {@link nearswap} with a checked `t` (by nearswap(), or by the planner and the method's entry). */
function nearswapKernel(base: Float32Array, model: Float32Array, t: number, tensorName: string): Float32Array {
	if (DEBUG_ASSERTS) {
		debugAssert(t !== undefined && paramValueProblem(T, t) === undefined, () => `nearswap tensor "${tensorName}": t = ${t}`);
	}
	const length = assertInputs("nearswap", tensorName, base, [model]);
	const out = new Float32Array(length);
	for (let k = 0; k < length; k++) {
		const b = base[k]!;
		const x = model[k]!;
		const diff = Math.abs(Math.fround(b - x));
		const w = Math.min(1, t / Math.max(diff, NEARSWAP_DIFF_EPS));
		out[k] = w * x + (1 - w) * b;
	}
	return out;
}

/** NearSwap: take the model's value where it is near the base, interpolate towards the base elsewhere. */
export const nearswapMethod = defineMethod({
	name: "nearswap",
	prettyName: "NearSwap",
	referenceUrl: "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001",
	description:
		"Per element, weight w = clamp(t/|base − model|, 0, 1) on the model and 1 − w on the base: values within t " +
		"of the base are swapped in, distant ones are damped.",
	base: "required",
	minModels: 1,
	maxModels: 1,
	params: {
		t: T,
	},
	modelParams: {},
	elementwise: () => true,
	merge({ tensorName, base, models, params }) {
		assertModelCount("nearswap", tensorName, models.length, 1, 1);
		if (base === undefined) {
			throw new MethodError("InvalidInput", "nearswap", `tensor "${tensorName}": a base model is required`);
		}
		return nearswapKernel(base, models[0]!, params.t, tensorName);
	},
});
