import { MethodError } from "../errors.js";
import { defineMethod } from "./define.js";
import { mayWriteInputs } from "./in-place.js";
import { checkParamValue } from "./param-check.js";
import type { NumberParamDef } from "./types.js";

/** The declaration of `scale` (passthroughMethod's per-model parameter), which passthrough() checks its `scale` against. */
const SCALE = { type: "number", description: "Multiply the tensor by this factor (unset: copy as is)." } as const satisfies NumberParamDef;

/**
 * Copies `x`, multiplied by `scale` when one is given (products rounded to float32 once); `x` is not modified. A scale
 * must be finite, as in a recipe (MethodError "InvalidParameter").
 */
export function passthrough(x: Float32Array, scale?: number): Float32Array {
	checkParamValue("passthrough", "(tensor)", "scale", SCALE, scale);
	return scaleInto(x, scale, new Float32Array(x.length));
}

/** out[i] = x[i]·scale (a plain copy without a scale); `out` may be `x` itself. */
function scaleInto(x: Float32Array, scale: number | undefined, out: Float32Array): Float32Array {
	if (scale === undefined) {
		if (out !== x) out.set(x);
		return out;
	}
	for (let i = 0; i < x.length; i++) out[i] = x[i]! * scale;
	return out;
}

/** Passthrough: one input tensor, copied unchanged or scaled (frankenmerges, layer stacking). */
export const passthroughMethod = defineMethod({
	name: "passthrough",
	prettyName: "Passthrough",
	description: "Copies the single input tensor unchanged, or multiplied by `scale` when set (frankenmerges).",
	base: "none",
	minModels: 1,
	maxModels: 1,
	params: {},
	modelParams: { scale: SCALE },
	elementwise: () => true,
	merge(inputs) {
		const { tensorName, base, models, modelParams } = inputs;
		// One input: the model itself, or the base model when the recipe names it as the only source.
		const input = models.length === 1 ? models[0] : models.length === 0 ? base : undefined;
		if (input === undefined) {
			const got = models.length + (base === undefined ? 0 : 1);
			throw new MethodError("InvalidInput", "passthrough", `tensor "${tensorName}": needs exactly 1 input tensor, got ${got}`);
		}
		const scale = modelParams[0]?.scale;
		// In place: the input array itself is the result (scaled where asked), no copy.
		return scaleInto(input, scale, mayWriteInputs(inputs) ? input : new Float32Array(input.length));
	},
});
