/**
 * mergekit's nuslerp (nuslerp.py) in the recipe's dtype. Per vector pair (the whole tensor when flattening; else each
 * row, or each column with `nuslerp_row_wise`):
 *
 *   û = u / clamp(‖u‖, min=1e-7)                     (norm: float32 sum, rounded to D; D division)
 *   cos = Σ û₀⊙û₁                                   (D products, float32 sum, rounded)
 *   θ = acos(clamp(cos, −1, 1)), sθ = sin θ          (float32 math, rounded to D)
 *   out = (sin(θ·(1−t))·v₀ + sin(θ·t)·v₁) / sθ       (each op rounded to D; (1−t) and t used as float32)
 *   |sθ| < 1e-8: out = v₀·(1−t) + v₁·t
 *
 * With a base: out = b + nuslerp(x₀ − b, x₁ − b). t = w₁/(w₀+w₁), or 0.5 when |w₀+w₁| < 1e-6 (Python floats).
 */
import type { MergeContext } from "../types.js";
import { type CompatDtype, TorchFloat } from "./torch-float.js";
import { booleanParam, type CompatInput, type CompatKernel, numberParam } from "./types.js";

/** How the tensor splits into vectors: `count` vectors of `length` elements, element k of vector j at j·step + k·stride. */
interface VectorLayout {
	count: number;
	length: number;
	step: number;
	stride: number;
}

function layoutOf(shape: readonly number[], n: number, rowWise: boolean, flatten: boolean): VectorLayout {
	if (flatten || shape.length < 2) return { count: 1, length: n, step: 0, stride: 1 };
	if (rowWise) {
		// transpose(0, -1): the vectors run along dim 0, one per position of the other dims.
		const length = shape[0]!;
		return { count: n / length, length, step: 1, stride: n / length };
	}
	const length = shape[shape.length - 1]!;
	return { count: n / length, length, step: length, stride: 1 };
}

/** D-rounded ‖v‖ of one vector, from float32 squares accumulated in float64. */
function vectorNorm(v: Float32Array, start: number, l: VectorLayout, math: TorchFloat): number {
	let s = 0;
	for (let k = 0; k < l.length; k++) {
		const x = v[start + k * l.stride]!;
		s += x * x;
	}
	return math.round(Math.fround(Math.sqrt(Math.fround(s))));
}

/** nuslerp(t, v₀, v₁), written into v₀ (returned). */
function nuslerpCoreCompat(
	v0: Float32Array,
	v1: Float32Array,
	t: number,
	shape: readonly number[],
	rowWise: boolean,
	flatten: boolean,
	dtype: CompatDtype,
): Float32Array {
	const math = new TorchFloat(dtype);
	const l = layoutOf(shape, v0.length, rowWise, flatten);
	const oneMinusT = math.scalar(1 - t);
	const tt = math.scalar(t);
	const tiny = math.narrow(1e-8);
	for (let j = 0; j < l.count; j++) {
		const start = j * l.step;
		const n0 = math.clamp(vectorNorm(v0, start, l, math), 1e-7, undefined);
		const n1 = math.clamp(vectorNorm(v1, start, l, math), 1e-7, undefined);
		let s = 0;
		for (let k = 0; k < l.length; k++) {
			const at = start + k * l.stride;
			s += math.mul(math.div(v0[at]!, n0), math.div(v1[at]!, n1));
		}
		const theta = math.acos(math.clamp(math.round(Math.fround(s)), -1, 1));
		const sinTheta = math.sin(theta);
		const c0 = math.sin(math.mul(theta, oneMinusT));
		const c1 = math.sin(math.mul(theta, tt));
		const colinear = Math.abs(sinTheta) < tiny;
		for (let k = 0; k < l.length; k++) {
			const at = start + k * l.stride;
			const a = v0[at]!;
			const b = v1[at]!;
			v0[at] = colinear
				? math.add(math.mul(a, oneMinusT), math.mul(b, tt))
				: math.div(math.add(math.mul(c0, a), math.mul(c1, b)), sinTheta);
		}
	}
	return v0;
}

/** The interpolation weight of the second model. */
function nuslerpTCompat(w0: number, w1: number): number {
	const s = w0 + w1;
	return Math.abs(s) < 1e-6 ? 0.5 : w1 / s;
}

export const nuslerpCompatKernel: CompatKernel = {
	method: "nuslerp",
	outputDtype: (dtype) => dtype,
	merge(input: CompatInput, _ctx: MergeContext): Float32Array {
		const [x0, x1] = input.models;
		if (x1 === undefined) return x0!;
		const t = nuslerpTCompat(
			numberParam(input.modelParams[0]!, "weight", Number.NaN),
			numberParam(input.modelParams[1]!, "weight", Number.NaN),
		);
		const rowWise = booleanParam(input.params, "nuslerp_row_wise", false);
		const flatten = booleanParam(input.params, "nuslerp_flatten", true);
		const math = new TorchFloat(input.dtype);
		const b = input.base;
		if (b !== undefined) {
			for (let i = 0; i < b.length; i++) {
				x0![i] = math.sub(x0![i]!, b[i]!);
				x1[i] = math.sub(x1[i]!, b[i]!);
			}
		}
		const res = nuslerpCoreCompat(x0!, x1, t, input.shape, rowWise, flatten, input.dtype);
		if (b !== undefined) for (let i = 0; i < b.length; i++) b[i] = math.add(b[i]!, res[i]!);
		return b ?? res;
	},
};
