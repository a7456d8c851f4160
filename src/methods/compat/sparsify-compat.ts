/**
 * mergekit's sparsify.py on one task vector, in the dtype mergekit works in: magnitude (TIES), magnitude_outliers
 * (Breadcrumbs), random (DARE) and della_magprune (DELLA). Each works in place on δ (values of the compute dtype)
 * and leaves values of that dtype.
 *
 * Random keep decisions come from `keep(i, p)`: p is the keep probability as torch materialises it (in the work
 * dtype: bfloat16 for bf16 tensors, else float32, as sparsify.py picks on the CPU). mergekit draws from torch's
 * global generator, which cannot be reproduced; the executor passes lm-merge's seeded streams, tests pass the masks
 * torch drew.
 */
import { MethodError } from "../../errors.js";
import { f32AbsSum } from "./reductions.js";
import { ascendingRanks, markAscendingRange, markTopK } from "./stable-rank.js";
import { TorchFloat } from "./torch-float.js";

/** Keep decision for element i (whole-tensor index) with probability p. */
export type KeepDraw = (i: number, p: number) => boolean;

/** Who is asking, for errors and warnings. */
interface SparsifyCompatWhere {
	method: string;
	tensorName: string;
}

/** rescaled_masked_tensor: δ·mask, then (L1) × (‖δ‖₁ / ‖δ·mask‖₁) with both norms rounded to the dtype. */
function maskAndRescale(t: Float32Array, keep: Uint8Array, math: TorchFloat, l1: boolean): void {
	const before = l1 ? math.round(f32AbsSum(t)) : 0;
	for (let i = 0; i < t.length; i++) t[i] = t[i]! * keep[i]!;
	if (!l1) return;
	const after = math.round(f32AbsSum(t));
	const eps = math.narrow(1e-7);
	if (before < eps || after < eps) return;
	const factor = math.div(before, after);
	for (let i = 0; i < t.length; i++) t[i] = math.mul(t[i]!, factor);
}

/** The dtype sparsify.py draws and rescales in on the CPU: bfloat16 stays, float16 and float32 use float32. */
function workMath(math: TorchFloat): TorchFloat {
	return math.dtype === "BF16" ? math : new TorchFloat("F32");
}

/** TIES trim: keeps the k = int(density·n) largest |δ| (equal magnitudes by index); k = 0 is refused as in mergekit. */
export function magnitudeCompat(t: Float32Array, density: number, l1: boolean, math: TorchFloat, where: SparsifyCompatWhere): void {
	if (density >= 1) return;
	const k = Math.trunc(density * t.length);
	if (!(k > 0)) {
		throw new MethodError(
			"InvalidParameter",
			where.method,
			`tensor "${where.tensorName}": density ${density} keeps no element of ${t.length}`,
		);
	}
	const keep = new Uint8Array(t.length);
	markTopK(t, k, keep);
	maskAndRescale(t, keep, math, l1);
}

/**
 * Breadcrumbs: keeps ascending positions [n_bot, n − n_top) of |δ|. Returns true when n_top is 0, where mergekit's
 * slice `[n_bot:-0]` is empty and the whole task vector becomes zero (reproduced here).
 */
export function magnitudeOutliersCompat(t: Float32Array, density: number, gamma: number, l1: boolean, math: TorchFloat): boolean {
	if (density >= 1) return false;
	const n = t.length;
	const target = Math.trunc(density * n);
	let nTop = Math.trunc(gamma * n);
	let nBot = n - target - nTop;
	if (nBot < 0) {
		nTop += nBot;
		nBot = 0;
	}
	const keep = new Uint8Array(n);
	if (nTop !== 0) markAscendingRange(t, nBot, n - nTop, keep);
	maskAndRescale(t, keep, math, l1);
	return nTop === 0;
}

/** DARE: keeps element i when keep(i, p), p = density in the work dtype; then the L1 match, ÷density, or nothing. */
export function randomDropCompat(
	t: Float32Array,
	density: number,
	rescale: boolean | "inverse_density",
	math: TorchFloat,
	draw: KeepDraw,
): void {
	if (density >= 1) return;
	const work = workMath(math);
	const p = work.fromDouble(density);
	const keep = new Uint8Array(t.length);
	for (let i = 0; i < t.length; i++) keep[i] = draw(i, p) ? 1 : 0;
	if (rescale === "inverse_density") {
		// mergekit ≤ 0.0.6: (δ·mask) / density, the Python float used as float32.
		const d = work.scalar(density);
		for (let i = 0; i < t.length; i++) t[i] = math.div(t[i]! * keep[i]!, d);
		return;
	}
	maskAndRescale(t, keep, work, rescale);
	if (work !== math) for (let i = 0; i < t.length; i++) t[i] = math.round(t[i]!);
}

/** DELLA's keep probability for one row, given the 0-based ascending ranks of its |δ| (see dellaCompat). */
function dellaRowProbabilities(ranks: Float64Array, density: number, epsilon: number, work: TorchFloat, out: Float64Array): void {
	const cols = ranks.length;
	const lo = work.fromDouble(1);
	const hi = work.fromDouble(cols);
	const two = work.scalar(2);
	const eps = work.scalar(epsilon);
	const offset = work.narrow(density - epsilon);
	for (let j = 0; j < cols; j++) {
		if (hi === lo) {
			// One column: mergekit computes 0/0 and torch.bernoulli refuses NaN; keep with probability `density`.
			out[j] = work.narrow(density);
			continue;
		}
		const rank = work.fromDouble(ranks[j]! + 1);
		const norm = work.clamp(work.div(work.sub(rank, lo), work.sub(hi, lo)), 0, 1);
		out[j] = work.add(work.mul(work.mul(norm, two), eps), offset);
	}
}

/**
 * DELLA MagPrune: per row of a 2-D tensor (a 1-D tensor is one row), keep probabilities from the ascending ranks of
 * |δ|: (density − ε) + 2ε·(rank − 1)/(cols − 1), computed in the work dtype (bf16 ranks round), then the draw and
 * the rescale. Tensors of more than 2 dimensions are refused (mergekit ranks along dim 1 of any shape; no merged
 * LLM weight has more than 2).
 */
export function dellaCompat(
	t: Float32Array,
	shape: readonly number[],
	density: number,
	epsilon: number,
	l1: boolean,
	math: TorchFloat,
	draw: KeepDraw,
	where: SparsifyCompatWhere,
): void {
	if (density >= 1) return;
	if (density <= 0) {
		t.fill(0);
		return;
	}
	if (density + epsilon >= 1 || density - epsilon <= 0) {
		throw new MethodError(
			"InvalidParameter",
			where.method,
			`tensor "${where.tensorName}": density ± epsilon (${density} ± ${epsilon}) must lie in (0, 1)`,
		);
	}
	if (shape.length > 2) {
		throw new MethodError(
			"InvalidInput",
			where.method,
			`tensor "${where.tensorName}": compat: mergekit ranks DELLA on 1-D and 2-D tensors only (shape ${shape.join("×")})`,
		);
	}
	const work = workMath(math);
	const cols = shape.length === 2 ? shape[1]! : t.length;
	const ranks = new Float64Array(cols);
	const probs = new Float64Array(cols);
	const keep = new Uint8Array(t.length);
	for (let start = 0; start < t.length; start += cols) {
		ascendingRanks(t.subarray(start, start + cols), ranks);
		dellaRowProbabilities(ranks, density, epsilon, work, probs);
		for (let j = 0; j < cols; j++) keep[start + j] = draw(start + j, probs[j]!) ? 1 : 0;
	}
	maskAndRescale(t, keep, work, l1);
	if (work !== math) for (let i = 0; i < t.length; i++) t[i] = math.round(t[i]!);
}

/** The keep probabilities DELLA uses for `t` (exported for tests against torch's). */
export function dellaProbabilitiesCompat(
	t: Float32Array,
	shape: readonly number[],
	density: number,
	epsilon: number,
	math: TorchFloat,
): Float64Array {
	const work = workMath(math);
	const cols = shape.length === 2 ? shape[1]! : t.length;
	const out = new Float64Array(t.length);
	const ranks = new Float64Array(cols);
	for (let start = 0; start < t.length; start += cols) {
		ascendingRanks(t.subarray(start, start + cols), ranks);
		dellaRowProbabilities(ranks, density, epsilon, work, out.subarray(start, start + cols));
	}
	return out;
}
