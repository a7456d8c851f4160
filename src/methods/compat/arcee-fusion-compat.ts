/**
 * mergekit's arcee_fusion (arcee_fusion.py) in the recipe's dtype. Rows are the last axis (a 1-D tensor is one row):
 *
 *   d = |c − a|                                           (D)
 *   p = softmax(c) + 1e-8, q = softmax(a) + 1e-8         (softmax in float32: exp(x − max)·(1/Σ), rounded to D,
 *                                                         Σ in torch's lane order; 1e-8 rounded to D in the addition)
 *   kl = Σ p·log(p/q) per row                             (D ops, float32 row sum, rounded)
 *   I = d·kl                                              (D)
 *   threshold = median + (q75 − q25)·1.5                  (sorted[int(q·(n−1))], q·(n−1) in float32; D ops)
 *   out = a + (c − a)·[I ≥ threshold]                     (the float32 mask promotes: the result is float32)
 *
 * mergekit returns float32 whatever the recipe's dtype (its issue #604); compat does the same, so the output is
 * float32 unless out_dtype says otherwise. Tensors above 1,000,000 elements take the quantiles from a sample that
 * mergekit draws with torch's global generator; compat draws its sample (with replacement, as mergekit does) from
 * the seeded stream, so those tensors cannot match mergekit bit for bit.
 */
import { uniformAt } from "../../tensor/rng.js";
import type { MergeContext } from "../types.js";
import { torchLaneTreeSum } from "./reductions.js";
import { type CompatDtype, TorchFloat } from "./torch-float.js";
import type { CompatInput, CompatKernel } from "./types.js";

/** mergekit samples the quantiles from this many elements of larger tensors. */
export const ARCEE_FUSION_COMPAT_SAMPLE = 1_000_000;

/** softmax(row) + 1e-8 as torch computes it for a D tensor, into `out`. */
function softmaxPlusEps(x: Float32Array, start: number, end: number, math: TorchFloat, out: Float32Array): void {
	let max = -Infinity;
	for (let k = start; k < end; k++) if (x[k]! > max || Number.isNaN(x[k]!)) max = x[k]!;
	for (let k = start; k < end; k++) out[k - start] = Math.fround(Math.exp(Math.fround(x[k]! - max)));
	const inv = Math.fround(1 / torchLaneTreeSum(out, 0, end - start, math.dtype === "F32"));
	const eps = math.narrow(1e-8);
	for (let k = 0; k < end - start; k++) out[k] = math.add(math.round(Math.fround(out[k]! * inv)), eps);
}

/** The importance I = |c − a|·KL(p ‖ q) of every element, as D values. */
function importanceOf(a: Float32Array, c: Float32Array, rowLength: number, math: TorchFloat): Float32Array {
	const n = a.length;
	const importance = new Float32Array(n);
	const p = new Float32Array(rowLength);
	const q = new Float32Array(rowLength);
	for (let start = 0; start < n; start += rowLength) {
		const end = start + rowLength;
		softmaxPlusEps(c, start, end, math, p);
		softmaxPlusEps(a, start, end, math, q);
		let s = 0;
		for (let k = 0; k < rowLength; k++) s += math.mul(p[k]!, math.log(math.div(p[k]!, q[k]!)));
		const kl = math.round(Math.fround(s));
		for (let k = start; k < end; k++) importance[k] = math.mul(Math.abs(math.sub(c[k]!, a[k]!)), kl);
	}
	return importance;
}

/** median + (q75 − q25)·1.5 over the importances (or a sample of them). */
function thresholdOf(importance: Float32Array, math: TorchFloat, ctx: MergeContext | undefined): number {
	let values: Float32Array;
	if (importance.length > ARCEE_FUSION_COMPAT_SAMPLE && ctx !== undefined) {
		const key = ctx.rngKey(0, 1);
		values = new Float32Array(ARCEE_FUSION_COMPAT_SAMPLE);
		for (let j = 0; j < values.length; j++) values[j] = importance[Math.floor(uniformAt(key, j) * importance.length)]!;
	} else {
		values = importance.slice();
	}
	values.sort();
	const at = (q: number) => values[Math.trunc(Math.fround(Math.fround(q) * Math.fround(values.length - 1)))]!;
	const [q1, median, q3] = [at(0.25), at(0.5), at(0.75)];
	return math.add(median, math.mul(math.sub(q3, q1), math.scalar(1.5)));
}

/** arcee_fusion of base `a` and model `c`: a float32 result, written into `a` (returned). */
function arceeFusionCompat(
	a: Float32Array,
	c: Float32Array,
	shape: readonly number[],
	dtype: CompatDtype,
	ctx?: MergeContext,
): Float32Array {
	const math = new TorchFloat(dtype);
	const rowLength = shape.length > 0 ? shape[shape.length - 1]! : a.length;
	const importance = importanceOf(a, c, rowLength, math);
	const threshold = thresholdOf(importance, math, ctx);
	for (let i = 0; i < a.length; i++) {
		const mask = importance[i]! >= threshold ? 1 : 0;
		a[i] = Math.fround(a[i]! + math.sub(c[i]!, a[i]!) * mask);
	}
	return a;
}

export const arceeFusionCompatKernel: CompatKernel = {
	method: "arcee_fusion",
	outputDtype: (): CompatDtype => "F32",
	merge: (input: CompatInput, ctx: MergeContext) => arceeFusionCompat(input.base!, input.models[0]!, input.shape, input.dtype, ctx),
};
