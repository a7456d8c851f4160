/**
 * mergekit's karcher (karcher.py) in the recipe's dtype. Norms are taken in float32 (`linalg.norm(x.float())`) and
 * used as float32 scalars, unrounded, so their summation order shows in the result: they follow torch's vectorised
 * order (reductions.ts, torchNormF32). The iterates stay in D:
 *
 *   uᵢ = xᵢ / ‖xᵢ‖ (zero for a zero tensor); inputs with ‖xᵢ‖ ≤ tol leave the mean, αᵢ renormalised (Python floats)
 *   m = Σ αᵢ·uᵢ (accumulated in D), m = m / ‖m‖ (or u of the first valid input when ‖m‖ < tol)
 *   repeat max_iter: dᵢ = clamp(m·uᵢ, −1, 1) (float32 dot, rounded to D), θᵢ = acos dᵢ;
 *                    T += (θᵢ / sin θᵢ · αᵢ)·(uᵢ − dᵢ·m) for θᵢ ≥ tol; stop when ‖T‖ < tol;
 *                    m = cos‖T‖·m + sin‖T‖·(T/‖T‖) (cos and sin rounded to D), m = m / ‖m‖
 *   out = m · Σ αᵢ‖xᵢ‖ (weights are ignored: αᵢ = 1/N; a base is one more input)
 */
import type { MergeContext } from "../types.js";
import { f32Dot, torchNormF32 } from "./reductions.js";
import { type CompatDtype, TorchFloat } from "./torch-float.js";
import { type CompatInput, type CompatKernel, numberParam } from "./types.js";

function karcherCompat(tensors: Float32Array[], maxIter: number, tol: number, dtype: CompatDtype): Float32Array {
	if (tensors.length === 1) return tensors[0]!;
	const math = new TorchFloat(dtype);
	const n = tensors[0]!.length;
	const alphas = tensors.map(() => 1 / tensors.length);
	const norms = tensors.map((x) => {
		const norm = torchNormF32(x);
		if (norm === 0) x.fill(0);
		else for (let i = 0; i < n; i++) x[i] = math.div(x[i]!, norm);
		return norm;
	});
	const valid = norms.map((v, i) => (v > tol ? i : -1)).filter((i) => i >= 0);
	const mean = new Float32Array(n);
	if (valid.length === 0) return mean;
	let total = 0;
	for (const i of valid) total += alphas[i]!;
	const va = valid.map((i) => alphas[i]! / total);
	const vu = valid.map((i) => tensors[i]!);
	for (let v = 0; v < vu.length; v++) {
		const a = math.scalar(va[v]!);
		const u = vu[v]!;
		for (let i = 0; i < n; i++) mean[i] = math.add(mean[i]!, math.mul(u[i]!, a));
	}
	const meanNorm = torchNormF32(mean);
	if (meanNorm < tol) mean.set(vu[0]!);
	else for (let i = 0; i < n; i++) mean[i] = math.div(mean[i]!, meanNorm);
	const tangent = new Float32Array(n);
	for (let iter = 0; iter < maxIter; iter++) {
		tangent.fill(0);
		for (let v = 0; v < vu.length; v++) {
			const u = vu[v]!;
			const dot = math.clamp(math.round(f32Dot(mean, u)), -1, 1);
			const theta = math.acos(dot);
			if (theta < tol) continue;
			const coef = math.mul(math.div(theta, math.sin(theta)), math.scalar(va[v]!));
			for (let i = 0; i < n; i++) tangent[i] = math.add(tangent[i]!, math.mul(coef, math.sub(u[i]!, math.mul(dot, mean[i]!))));
		}
		const tn = torchNormF32(tangent);
		if (tn < tol) break;
		// cos‖T‖ and sin‖T‖ are float32 0-dim tensors multiplying a D tensor from the left: torch rounds them to D.
		const c = math.r(Math.cos(tn));
		const s = math.r(Math.sin(tn));
		for (let i = 0; i < n; i++) mean[i] = math.add(math.mul(c, mean[i]!), math.mul(s, math.div(tangent[i]!, tn)));
		const un = torchNormF32(mean);
		if (un > tol) for (let i = 0; i < n; i++) mean[i] = math.div(mean[i]!, un);
	}
	let scale = 0;
	for (let i = 0; i < alphas.length; i++) scale += alphas[i]! * norms[i]!;
	const sc = math.scalar(scale);
	for (let i = 0; i < n; i++) mean[i] = math.mul(mean[i]!, sc);
	return mean;
}

export const karcherCompatKernel: CompatKernel = {
	method: "karcher",
	outputDtype: (dtype) => dtype,
	merge(input: CompatInput, _ctx: MergeContext): Float32Array {
		const tensors = input.base !== undefined ? [...input.models, input.base] : input.models;
		return karcherCompat(tensors, numberParam(input.params, "max_iter", 10), numberParam(input.params, "tol", 1e-5), input.dtype);
	},
};
