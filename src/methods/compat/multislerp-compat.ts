/**
 * mergekit's multislerp (multislerp.py) in the recipe's dtype, including the exponential-map step that the float32
 * path skips (in exact arithmetic its tangent sum is zero; in bf16 it is rounding noise that mergekit keeps):
 *
 *   yᵢ = xᵢ − b (with a base); w = torch.tensor(weights, D), w = w / Σw (normalize_weights)
 *   nᵢ = ‖yᵢ‖, uᵢ = yᵢ / (nᵢ + eps)                       (eps rounded to D in the addition)
 *   m = Σᵢ uᵢ·wᵢ, m̂ = m / ‖m‖                            (‖m‖ < eps: two models fall back to y₀w₀ + y₁w₁)
 *   τ = Σᵢ (uᵢ − (uᵢ·m̂)·m̂)·wᵢ, L = ‖τ‖ + eps
 *   out = (m̂·cos L + τ·(sin L / L)) · Σᵢ nᵢwᵢ (+ b)
 *
 * Every op rounds to D; norms and dot products accumulate in float32. mergekit collects the models through a Python
 * set, so with three or more models its summation order (and so its bf16 result) can change between runs; this
 * follows the recipe order.
 */
import { MethodError } from "../../errors.js";
import type { MergeContext } from "../types.js";
import { modelAxisSum } from "./reductions.js";
import { TorchFloat } from "./torch-float.js";
import { booleanParam, type CompatInput, type CompatKernel, numberParam } from "./types.js";

function normOf(x: Float32Array, math: TorchFloat): number {
	let s = 0;
	for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
	return math.round(Math.fround(Math.sqrt(Math.fround(s))));
}

function multislerpCompat(input: CompatInput): Float32Array {
	const math = new TorchFloat(input.dtype);
	const ys = input.models;
	const count = ys.length;
	if (count === 1) return ys[0]!;
	const b = input.base;
	const n = ys[0]!.length;
	if (b !== undefined) for (const y of ys) for (let i = 0; i < n; i++) y[i] = math.sub(y[i]!, b[i]!);
	const eps = numberParam(input.params, "eps", 1e-8);
	let w = input.modelParams.map((mp) => math.fromDouble(numberParam(mp, "weight", Number.NaN)));
	if (booleanParam(input.params, "normalize_weights", true)) {
		const total = math.round(modelAxisSum(w));
		w = w.map((x) => math.div(x, total));
	}
	const norms = ys.map((y) => normOf(y, math));
	const denoms = norms.map((x) => math.add(x, math.narrow(eps)));
	const unit = (m: number, i: number) => math.div(ys[m]![i]!, denoms[m]!);
	const terms = new Array<number>(count).fill(0);
	const mean = new Float32Array(n);
	for (let i = 0; i < n; i++) {
		for (let m = 0; m < count; m++) terms[m] = math.mul(unit(m, i), w[m]!);
		mean[i] = math.round(modelAxisSum(terms));
	}
	const meanNorm = normOf(mean, math);
	if (meanNorm < math.narrow(eps)) {
		if (count !== 2) {
			throw new MethodError(
				"Numerical",
				"multislerp",
				`tensor "${input.tensorName}": the weighted directions cancel out (mergekit raises here too)`,
			);
		}
		for (let i = 0; i < n; i++) {
			const v = math.add(math.mul(ys[0]![i]!, w[0]!), math.mul(ys[1]![i]!, w[1]!));
			mean[i] = b !== undefined ? math.add(v, b[i]!) : v;
		}
		return mean;
	}
	for (let i = 0; i < n; i++) mean[i] = math.div(mean[i]!, meanNorm);
	const dots = ys.map((_, m) => {
		let s = 0;
		for (let i = 0; i < n; i++) s += math.mul(unit(m, i), mean[i]!);
		return math.round(Math.fround(s));
	});
	const tangent = new Float32Array(n);
	for (let i = 0; i < n; i++) {
		for (let m = 0; m < count; m++) terms[m] = math.mul(math.sub(unit(m, i), math.mul(dots[m]!, mean[i]!)), w[m]!);
		tangent[i] = math.round(modelAxisSum(terms));
	}
	const length = math.add(normOf(tangent, math), math.narrow(eps));
	const cosL = math.cos(length);
	const sinOverL = math.div(math.sin(length), length);
	const avgNorm = math.round(modelAxisSum(norms.map((x, m) => math.mul(x, w[m]!))));
	for (let i = 0; i < n; i++) {
		const r = math.mul(math.add(math.mul(mean[i]!, cosL), math.mul(tangent[i]!, sinOverL)), avgNorm);
		mean[i] = b !== undefined ? math.add(r, b[i]!) : r;
	}
	return mean;
}

export const multislerpCompatKernel: CompatKernel = {
	method: "multislerp",
	outputDtype: (dtype) => dtype,
	merge: (input: CompatInput, _ctx: MergeContext) => multislerpCompat(input),
};
