/**
 * mergekit's slerp (slerp.py): unlike the other methods it converts both tensors to numpy float32 and computes there,
 * then casts the result back to the base tensor's dtype. With numpy ≥ 2 (NEP 50) Python numbers stay float32 in
 * every scalar step, so all of it is float32:
 *
 *   â = a / ‖a‖ (when ‖a‖ > 1e-8), ĉ likewise         ‖·‖: np.linalg.norm = sqrt of the BLAS sdot
 *   dot = np.sum(â ⊙ ĉ)                               numpy's pairwise float32 sum (reproduced exactly)
 *   |dot| > 0.9995: out = (1 − t)·a + t·c
 *   else θ₀ = arccos(dot), θt = θ₀·t, s₀ = sin(θ₀ − θt)/sin θ₀, s₁ = sin θt / sin θ₀, out = s₀·a + s₁·c
 *   out → dtype D (one rounding)
 */
import type { MergeContext } from "../types.js";
import { f32Norm } from "./reductions.js";
import { type CompatDtype, TorchFloat } from "./torch-float.js";
import { type CompatInput, type CompatKernel, numberParam } from "./types.js";

/** numpy's unrolled block: below this many elements a pairwise sum is one run of 8 accumulators. */
const PAIRWISE_BLOCK = 128;

/**
 * numpy's float32 pairwise summation (`pairwise_sum` in its umath loops), as np.sum applies it to a contiguous
 * float32 array: fewer than 8 values are added in order; up to 128 go to 8 interleaved accumulators combined as
 * ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) plus a sequential tail; longer runs split in two at a multiple of 8.
 */
function numpyPairwiseSum(x: Float32Array, start: number, n: number): number {
	if (n < 8) {
		let res = 0;
		for (let i = 0; i < n; i++) res = Math.fround(res + x[start + i]!);
		return res;
	}
	if (n <= PAIRWISE_BLOCK) {
		const r = [0, 0, 0, 0, 0, 0, 0, 0];
		for (let j = 0; j < 8; j++) r[j] = x[start + j]!;
		let i = 8;
		for (; i < n - (n % 8); i += 8) {
			for (let j = 0; j < 8; j++) r[j] = Math.fround(r[j]! + x[start + i + j]!);
		}
		const f = Math.fround;
		let res = f(f(f(r[0]! + r[1]!) + f(r[2]! + r[3]!)) + f(f(r[4]! + r[5]!) + f(r[6]! + r[7]!)));
		for (; i < n; i++) res = f(res + x[start + i]!);
		return res;
	}
	let n2 = Math.floor(n / 2);
	n2 -= n2 % 8;
	return Math.fround(numpyPairwiseSum(x, start, n2) + numpyPairwiseSum(x, start + n2, n - n2));
}

/** Slerp from `a` (t = 0, the base) to `c` (t = 1); the result is written into `a` and returned. */
function slerpCompat(a: Float32Array, c: Float32Array, t: number, dtype: CompatDtype): Float32Array {
	const math = new TorchFloat(dtype);
	const f = Math.fround;
	const eps = f(1e-8);
	const na = f32Norm(a);
	const nc = f32Norm(c);
	const products = new Float32Array(a.length);
	for (let i = 0; i < a.length; i++) {
		const ua = na > eps ? f(a[i]! / na) : a[i]!;
		const uc = nc > eps ? f(c[i]! / nc) : c[i]!;
		products[i] = f(ua * uc);
	}
	const dot = numpyPairwiseSum(products, 0, products.length);
	const tt = f(t);
	let s0: number;
	let s1: number;
	if (Math.abs(dot) > f(0.9995)) {
		s0 = f(1 - t);
		s1 = tt;
	} else {
		const theta0 = f(Math.acos(dot));
		const sin0 = f(Math.sin(theta0));
		const thetaT = f(theta0 * tt);
		s0 = f(f(Math.sin(f(theta0 - thetaT))) / sin0);
		s1 = f(f(Math.sin(thetaT)) / sin0);
	}
	for (let i = 0; i < a.length; i++) a[i] = math.round(f(f(s0 * a[i]!) + f(s1 * c[i]!)));
	return a;
}

export const slerpCompatKernel: CompatKernel = {
	method: "slerp",
	outputDtype: (dtype) => dtype,
	merge(input: CompatInput, _ctx: MergeContext): Float32Array {
		const base = input.base!;
		const other = input.models[0];
		if (other === undefined) return base;
		return slerpCompat(base, other, numberParam(input.params, "t", 0.5), input.dtype);
	},
};
