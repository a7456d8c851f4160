/**
 * mergekit's model_stock (model_stock.py) in the recipe's dtype. Over the whole tensor, or per row with filter_wise:
 *
 *   oᵢ = xᵢ − b; cosᵢⱼ = clamp((Σ oᵢ⊙oⱼ) / clamp(‖oᵢ‖·‖oⱼ‖, min=1e-6), −1, 1)   (D products and norms)
 *   c = mean of the pairwise cosines (float32 sum / count, rounded to D)
 *   t = (c·N) / (c·(N−1) + 1)                                                 (N used as float32)
 *   out = t·avg + (1 − t)·b, avg = ((0 + x₁) + x₂ + …) / N                     (Python's sum: D additions)
 */
import { MethodError } from "../../errors.js";
import type { MergeContext } from "../types.js";
import { modelAxisSum } from "./reductions.js";
import { TorchFloat } from "./torch-float.js";
import { booleanParam, type CompatInput, type CompatKernel } from "./types.js";

/** The model-stock ratio t for one vector [start, end) (the whole tensor, or one row). */
function ratioOf(b: Float32Array, xs: readonly Float32Array[], start: number, end: number, math: TorchFloat): number {
	const count = xs.length;
	const sq = new Float64Array(count);
	const dots = new Float64Array(count * count);
	const o = new Array<number>(count).fill(0);
	for (let k = start; k < end; k++) {
		for (let m = 0; m < count; m++) o[m] = math.sub(xs[m]![k]!, b[k]!);
		for (let i = 0; i < count; i++) {
			sq[i] = sq[i]! + o[i]! * o[i]!;
			for (let j = i + 1; j < count; j++) dots[i * count + j] = dots[i * count + j]! + math.mul(o[i]!, o[j]!);
		}
	}
	const norms = Array.from(sq, (s) => math.round(Math.fround(Math.sqrt(Math.fround(s)))));
	const cosines: number[] = [];
	for (let i = 0; i < count; i++) {
		for (let j = i + 1; j < count; j++) {
			const product = math.clamp(math.mul(norms[i]!, norms[j]!), 1e-6, undefined);
			cosines.push(math.clamp(math.div(math.round(Math.fround(dots[i * count + j]!)), product), -1, 1));
		}
	}
	const c = math.r(modelAxisSum(cosines) / cosines.length);
	return math.div(math.mul(c, math.scalar(count)), math.add(math.mul(c, math.scalar(count - 1)), math.narrow(1)));
}

function modelStockCompat(input: CompatInput): Float32Array {
	const math = new TorchFloat(input.dtype);
	const b = input.base;
	const xs = input.models;
	if (b === undefined || xs.length < 2) {
		throw new MethodError("InvalidInput", "model_stock", `tensor "${input.tensorName}": needs a base and at least 2 models`);
	}
	const n = b.length;
	const rowLength = booleanParam(input.params, "filter_wise", false) ? (input.shape[input.shape.length - 1] ?? n) : n;
	const count = math.scalar(xs.length);
	for (let start = 0; start < n; start += rowLength) {
		const end = start + rowLength;
		const t = ratioOf(b, xs, start, end, math);
		const oneMinusT = math.sub(math.narrow(1), t);
		for (let k = start; k < end; k++) {
			let sum = math.add(xs[0]![k]!, 0);
			for (let m = 1; m < xs.length; m++) sum = math.add(sum, xs[m]![k]!);
			const avg = math.div(sum, count);
			b[k] = math.add(math.mul(t, avg), math.mul(oneMinusT, b[k]!));
		}
	}
	return b;
}

export const modelStockCompatKernel: CompatKernel = {
	method: "model_stock",
	outputDtype: (dtype) => dtype,
	merge: (input: CompatInput, _ctx: MergeContext) => modelStockCompat(input),
};
