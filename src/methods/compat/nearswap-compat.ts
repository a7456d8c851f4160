/**
 * mergekit's nearswap (nearswap.py) in the recipe's dtype:
 *
 *   w = |b − x|; w = reciprocal(w)·t   (`t / w` is Tensor.__rtruediv__: a D reciprocal, then × t as float32)
 *   w = nan_to_num(w, 1, 1, 1); w = clamp(w, 0, 1)
 *   out = w·x + (1 − w)·b              (each op rounded to D)
 */
import { MethodError } from "../../errors.js";
import type { MergeContext } from "../types.js";
import { type CompatDtype, TorchFloat } from "./torch-float.js";
import { type CompatInput, type CompatKernel, numberParam } from "./types.js";

/** Nearswap written into `b` (returned). */
function nearswapCompat(b: Float32Array, x: Float32Array, t: number, dtype: CompatDtype): Float32Array {
	const math = new TorchFloat(dtype);
	const tt = math.scalar(t);
	const one = math.narrow(1);
	for (let i = 0; i < b.length; i++) {
		let w = math.mul(math.r(1 / Math.abs(math.sub(b[i]!, x[i]!))), tt);
		if (!Number.isFinite(w)) w = 1;
		w = math.clamp(w, 0, 1);
		b[i] = math.add(math.mul(w, x[i]!), math.mul(math.sub(one, w), b[i]!));
	}
	return b;
}

export const nearswapCompatKernel: CompatKernel = {
	method: "nearswap",
	outputDtype: (dtype) => dtype,
	merge(input: CompatInput, _ctx: MergeContext): Float32Array {
		const t = numberParam(input.params, "t", Number.NaN);
		if (!(t > 0)) throw new MethodError("InvalidParameter", "nearswap", `tensor "${input.tensorName}": t must be > 0 (got ${t})`);
		return nearswapCompat(input.base!, input.models[0]!, t, input.dtype);
	},
};
