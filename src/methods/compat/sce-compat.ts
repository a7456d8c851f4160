/**
 * mergekit's sce (sce.py) in the recipe's dtype:
 *
 *   τᵢ = xᵢ − b                                                     (D)
 *   select_topk < 1: v = var(τ, over models) (Welford in float64, rounded to D); k = int(nonzero(v)·topk) in
 *                    float32; keep the k largest |v| (equal variances by index), zero the other positions
 *   elected sign: + where Σᵢ τᵢ ≥ 0 (float32 over models, rounded); erase entries of the other sign and zeros
 *   ωᵢ = mean(τᵢ²) (D squares, float32 sum / count, rounded); ω = ω / Σω, or 1/N when |Σω| < 1e-6
 *   out = b + Σ τᵢ·ωᵢ·maskᵢ / clamp(Σ ωᵢ·maskᵢ, min=1e-6)
 */
import type { MergeContext } from "../types.js";
import { modelAxisSum } from "./reductions.js";
import { markTopK } from "./stable-rank.js";
import { TorchFloat } from "./torch-float.js";
import { type CompatInput, type CompatKernel, numberParam } from "./types.js";

/** torch.var(…, unbiased=False) over the model axis at one position: Welford in float64, as torch's CPU kernel. */
function welfordVariance(values: readonly number[]): number {
	let mean = 0;
	let m2 = 0;
	for (let i = 0; i < values.length; i++) {
		const delta = values[i]! - mean;
		mean += delta / (i + 1);
		m2 += delta * (values[i]! - mean);
	}
	return m2 / values.length;
}

/** Zeroes the positions outside the select_topk share of the largest variances. */
function selectByVariance(tvs: Float32Array[], topk: number, math: TorchFloat): void {
	const n = tvs[0]!.length;
	const variance = new Float32Array(n);
	const column = new Array<number>(tvs.length).fill(0);
	let nonzero = 0;
	for (let i = 0; i < n; i++) {
		for (let m = 0; m < tvs.length; m++) column[m] = tvs[m]![i]!;
		variance[i] = math.r(welfordVariance(column));
		if (variance[i] !== 0) nonzero++;
	}
	// `count_nonzero(var) * select_topk` multiplies an int64 0-dim tensor by a Python float: float32 arithmetic.
	const k = Math.trunc(Math.fround(Math.fround(nonzero) * Math.fround(topk)));
	const keep = new Uint8Array(n);
	if (k > 0) markTopK(variance, k, keep);
	for (const t of tvs) for (let i = 0; i < n; i++) t[i] = t[i]! * keep[i]!;
}

function sceCompat(input: CompatInput): Float32Array {
	const math = new TorchFloat(input.dtype);
	const b = input.base!;
	const tvs = input.models;
	const n = b.length;
	const count = tvs.length;
	for (const t of tvs) for (let i = 0; i < n; i++) t[i] = math.sub(t[i]!, b[i]!);
	const topk = numberParam(input.params, "select_topk", 1);
	if (topk < 1) selectByVariance(tvs, topk, math);
	const raw = tvs.map((t) => {
		let s = 0;
		for (let i = 0; i < n; i++) s += math.mul(t[i]!, t[i]!);
		return math.r(Math.fround(s) / Math.fround(n));
	});
	const total = math.round(modelAxisSum(raw));
	const weights = Math.abs(total) < 1e-6 ? raw.map(() => math.div(1, math.scalar(count))) : raw.map((w) => math.div(w, math.scalar(total)));
	const terms = new Array<number>(count).fill(0);
	const kept = new Array<number>(count).fill(0);
	for (let i = 0; i < n; i++) {
		for (let m = 0; m < count; m++) terms[m] = tvs[m]![i]!;
		const elected = math.round(modelAxisSum(terms)) >= 0 ? 1 : -1;
		for (let m = 0; m < count; m++) {
			const erased = math.mul(weights[m]!, Math.sign(tvs[m]![i]!) === elected ? 1 : 0);
			kept[m] = erased;
			terms[m] = math.mul(tvs[m]![i]!, erased);
		}
		const merged = math.round(modelAxisSum(terms));
		const divisor = math.clamp(math.round(modelAxisSum(kept)), 1e-6, undefined);
		b[i] = math.add(b[i]!, math.div(merged, divisor));
	}
	return b;
}

export const sceCompatKernel: CompatKernel = {
	method: "sce",
	outputDtype: (dtype) => dtype,
	merge: (input: CompatInput, _ctx: MergeContext) => sceCompat(input),
};
