/**
 * The sparsifiers of the task-vector family (mergekit's sparsify.py behaviour, see docs/methods.md). Each works on
 * one task vector IN PLACE and returns it, so a merge holds at most one array per model. All randomness comes from
 * `uniformAt(key, elementOffset + i)`: the same seed, tensor and model give the same mask in any chunking.
 */
import { MethodError } from "../../errors.js";
import { AbsRowOrder } from "../../tensor/abs-row-order.js";
import { absRankRangeMask, l1Norm } from "../../tensor/ops.js";
import { ABS_MASK, absRankCut, bitsOf } from "../../tensor/radix-select.js";
import { counterHash, counterHiMix, type RngKey, UNIFORM_SCALE, uniformAt, uniformBitsInto } from "../../tensor/rng.js";
import type { Rescale, SparsifyWhere } from "./types.js";

/** mergekit skips the L1 rescale when either norm is below this, to avoid dividing by (nearly) zero. */
export const RESCALE_MIN_NORM = 1e-7;

const UNKNOWN: SparsifyWhere = { method: "sparsify", tensorName: "(tensor)" };

/** Random draws are made in blocks of this many (a 8 KB buffer of hashes, cache-resident), not one call each. */
const DRAW_BLOCK = 2048;

/** The L1 rescale factor ‖δ‖₁ / ‖m⊙δ‖₁, or undefined when either norm is below RESCALE_MIN_NORM (or NaN). */
export function l1RescaleFactor(l1Before: number, l1After: number): number | undefined {
	return l1Before >= RESCALE_MIN_NORM && l1After >= RESCALE_MIN_NORM ? l1Before / l1After : undefined;
}

/** Applies `rescale` to an already masked delta; `l1Before` is ‖δ‖₁ before masking. */
function rescaleKept(delta: Float32Array, rescale: Rescale, density: number, l1Before: number): Float32Array {
	if (rescale === "inverse_density") {
		if (density > 0) for (let i = 0; i < delta.length; i++) delta[i] = delta[i]! / density;
	} else if (rescale) {
		const factor = l1RescaleFactor(l1Before, l1Norm(delta));
		if (factor !== undefined) for (let i = 0; i < delta.length; i++) delta[i] = delta[i]! * factor;
	}
	return delta;
}

/**
 * Why a TIES trim cannot keep k = floor(density·n) of n entries, or undefined: k = 0 is refused, as mergekit refuses
 * to zero a whole tensor (density ≥ 1 keeps everything and never is). The declaration's per-tensor check
 * (declaration.ts, run by the planner for every tensor) and magnitudeMask's entry check.
 */
export function magnitudeKeepProblem(n: number, density: number): string | undefined {
	return density >= 1 || Math.floor(density * n) > 0 ? undefined : `density ${density} keeps no element of ${n}`;
}

/** k = floor(density·n) of a TIES trim (for density < 1); k = 0 is "InvalidParameter" ({@link magnitudeKeepProblem}). */
function magnitudeKeepCount(n: number, density: number, where: SparsifyWhere): number {
	const why = magnitudeKeepProblem(n, density);
	if (why !== undefined) throw new MethodError("InvalidParameter", where.method, `tensor "${where.tensorName}": ${why}`);
	return Math.floor(density * n);
}

/**
 * TIES trim: keeps the k = floor(density·n) largest |δ| (ties in index order). density ≥ 1 leaves δ unchanged;
 * k = 0 is a MethodError "InvalidParameter" (as mergekit, which refuses to zero a whole tensor).
 */
export function magnitudeMask(delta: Float32Array, density: number, rescale: Rescale = false, where = UNKNOWN): Float32Array {
	if (density >= 1) return delta;
	const k = magnitudeKeepCount(delta.length, density, where);
	const l1Before = rescale === true ? l1Norm(delta) : 0;
	const bits = bitsOf(delta);
	const { key: cutKey, tieEnd } = absRankCut(bits, k);
	for (let i = 0; i < bits.length; i++) {
		const key = bits[i]! & ABS_MASK;
		if (!(key > cutKey || (key === cutKey && i < tieEnd))) delta[i] = 0;
	}
	return rescaleKept(delta, rescale, density, l1Before);
}

/**
 * DARE: keeps each entry with probability `density` (uniformAt(key, elementOffset + i) < density), then rescales.
 * density ≥ 1 leaves δ unchanged; density ≤ 0 zeroes it.
 */
export function dropAndRescale(
	delta: Float32Array,
	density: number,
	key: RngKey,
	rescale: Rescale = true,
	elementOffset = 0,
): Float32Array {
	if (density >= 1) return delta;
	if (density <= 0) return delta.fill(0);
	const l1Before = rescale === true ? l1Norm(delta) : 0;
	const threshold = density * UNIFORM_SCALE;
	const draws = new Uint32Array(DRAW_BLOCK);
	for (let start = 0; start < delta.length; start += DRAW_BLOCK) {
		const len = Math.min(DRAW_BLOCK, delta.length - start);
		uniformBitsInto(key, elementOffset + start, 1, len, draws);
		for (let j = 0; j < len; j++) if (!(draws[j]! < threshold)) delta[start + j] = 0;
	}
	return rescaleKept(delta, rescale, density, l1Before);
}

/** Breadcrumbs' kept range [lo, hi) of descending-|δ| ranks for n entries (see {@link magnitudeOutliers}). */
export function outlierRankRange(n: number, density: number, gamma: number): { lo: number; hi: number } {
	const target = Math.floor(density * n);
	let nTop = Math.floor(gamma * n);
	let nBot = n - target - nTop;
	if (nBot < 0) {
		nTop += nBot;
		nBot = 0;
	}
	// Ascending positions [nBot, n − nTop) are descending ranks [nTop, n − nBot).
	return { lo: nTop, hi: n - nBot };
}

/**
 * Breadcrumbs: with N = numel, target = floor(density·N), n_top = floor(gamma·N) and n_bot = N − target − n_top
 * (when negative, n_top absorbs it), keeps the positions [n_bot, N − n_top) of the ascending-|δ| order, i.e. drops
 * the n_top largest and the n_bot smallest. Unlike mergekit this also holds for n_top = 0 (mergekit zeroes all).
 */
export function magnitudeOutliers(delta: Float32Array, density: number, gamma: number, rescale: Rescale = false): Float32Array {
	if (density >= 1) return delta;
	const { lo, hi } = outlierRankRange(delta.length, density, gamma);
	const l1Before = rescale === true ? l1Norm(delta) : 0;
	const mask = absRankRangeMask(delta, lo, hi);
	for (let i = 0; i < delta.length; i++) if (mask[i] === 0) delta[i] = 0;
	return rescaleKept(delta, rescale, density, l1Before);
}

/**
 * Why DELLA cannot prune with this density and epsilon, or undefined when it can: for 0 < density < 1 the keep
 * probabilities span [density − epsilon, density + epsilon], which must lie inside (0, 1) as in mergekit (a
 * probability of 0 or below never keeps, 1 or above always keeps). density ≥ 1 and ≤ 0 do not prune by rank.
 */
export function dellaBandProblem(density: number, epsilon: number): string | undefined {
	if (density >= 1 || density <= 0 || (density - epsilon > 0 && density + epsilon < 1)) return undefined;
	const r = (x: number) => Number(x.toPrecision(6));
	return (
		`keep probabilities would span [density - epsilon, density + epsilon] = [${r(density - epsilon)}, ${r(density + epsilon)}], ` +
		`outside (0, 1); with density ${r(density)}, epsilon must be below ${r(Math.min(density, 1 - density))}`
	);
}

/** Throws unless 0 < density − epsilon and density + epsilon < 1 (DELLA's keep probabilities must be in (0, 1)). */
function checkDellaBand(density: number, epsilon: number, where: SparsifyWhere): void {
	const why = dellaBandProblem(density, epsilon);
	if (why !== undefined) {
		throw new MethodError(
			"InvalidParameter",
			where.method,
			`tensor "${where.tensorName}": epsilon ${epsilon} with density ${density}: ${why}`,
		);
	}
}

/**
 * DELLA MagPrune: along dim 1 (1-D tensors as one row), an element of ascending magnitude rank r (0-based) among c
 * keeps with probability (d − ε) + 2ε·r/(c − 1) (a single-element row: d). Requires 0 < d − ε and d + ε < 1.
 * density ≥ 1 leaves δ unchanged; density ≤ 0 zeroes it.
 */
export function dellaMagprune(
	delta: Float32Array,
	shape: readonly number[],
	density: number,
	epsilon: number,
	key: RngKey,
	rescale: Rescale = true,
	elementOffset = 0,
	where = UNKNOWN,
): Float32Array {
	if (density >= 1) return delta;
	if (density <= 0) return delta.fill(0);
	checkDellaBand(density, epsilon, where);
	const l1Before = rescale === true ? l1Norm(delta) : 0;
	dellaDrop(delta, shape, density, epsilon, key, elementOffset, where);
	return rescaleKept(delta, rescale, density, l1Before);
}

/**
 * Zeroes the entries DELLA drops (0 < density < 1, band already checked): within each row along dim 1, the entry of
 * ascending-|δ| rank r (ties: lower column first) survives when uniformAt(key, elementOffset + flat index) < p(r).
 * Tensors of rank ≤ 1 are one row; dims after 1 index separate rows.
 */
export function dellaDrop(
	delta: Float32Array,
	shape: readonly number[],
	density: number,
	epsilon: number,
	key: RngKey,
	elementOffset: number,
	where: SparsifyWhere,
): void {
	const n = delta.length;
	let outer = 1;
	let cols = n;
	let inner = 1;
	if (shape.length >= 2) {
		outer = shape[0]!;
		cols = shape[1]!;
		inner = shape.slice(2).reduce((a, b) => a * b, 1);
	}
	if (outer * cols * inner !== n) {
		const why = `shape [${shape.join(", ")}] does not hold ${n} elements`;
		throw new MethodError("InvalidInput", where.method, `tensor "${where.tensorName}": ${why}`);
	}
	if (n === 0) return;
	const bits = bitsOf(delta);
	const sorter = new AbsRowOrder(cols);
	// thresholds[r]: the keep probability of ascending rank r, scaled to compare with 32-bit hashes (exact).
	const thresholds = new Float64Array(cols);
	for (let r = 0; r < cols; r++) {
		const p = cols === 1 ? density : density - epsilon + (2 * epsilon * r) / (cols - 1);
		thresholds[r] = p * UNIFORM_SCALE;
	}
	const inline = elementOffset + n <= UNIFORM_SCALE;
	const { lo, hi } = key;
	const hiMix = counterHiMix(key);
	for (let o = 0; o < outer; o++) {
		for (let c = 0; c < inner; c++) {
			const rowStart = o * cols * inner + c;
			const order = sorter.order(bits, rowStart, inner);
			for (let r = 0; r < cols; r++) {
				const index = rowStart + order[r]! * inner;
				const counter = elementOffset + index;
				const h = inline ? counterHash(counter, lo, hi, hiMix) >>> 0 : uniformAt(key, counter) * UNIFORM_SCALE;
				// Dropped entries become +0 (the bits are cleared without a branch).
				bits[index] = bits[index]! & -((h < thresholds[r]!) as unknown as number);
			}
		}
	}
}
