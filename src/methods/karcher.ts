import { DEBUG_ASSERTS, debugAssert } from "../debug-assert.js";
import { MethodError } from "../errors.js";
import { assertInputs, combineOffsets, offsetGram } from "../tensor/vector-ops.js";
import { defineMethod } from "./define.js";
import { checkParamValue, paramValueProblem } from "./param-check.js";
import type { NumberParamDef } from "./types.js";

/** mergekit's default iteration cap: the fixed-point iteration converges in a few steps for nearby directions. */
const KARCHER_DEFAULT_MAX_ITER = 10;
/** mergekit's default tolerance for norms, angles and the tangent step. */
const KARCHER_DEFAULT_TOL = 1e-5;
/**
 * θ this close to π (sin θ below it) means an antipodal input: every geodesic is as short, so there is no
 * direction to move in and θ/sin θ would blow up (mergekit then moves by ~1e16 radians); we skip that input.
 */
const KARCHER_SIN_EPS = 1e-12;

/** The declarations of karcher's parameters, which karcher() checks `maxIter` and `tol` against. */
const MAX_ITER = {
	type: "number",
	default: KARCHER_DEFAULT_MAX_ITER,
	min: 1,
	integer: true,
	description: "Maximum fixed-point iterations",
} as const satisfies NumberParamDef;
const TOL = {
	type: "number",
	default: KARCHER_DEFAULT_TOL,
	min: 0,
	description: "Convergence and zero-norm tolerance",
} as const satisfies NumberParamDef;

/** Options of {@link karcher}: iteration limit and tolerance of the Karcher-mean iteration, and per-model weights. */
interface KarcherOptions {
	maxIter?: number;
	tol?: number;
	/** Weights αᵢ (default 1/N each, which is all the `karcher` method uses). */
	weights?: readonly number[];
	/** Used in error messages. */
	tensorName?: string;
}

/** Quadratic form cᵀGc for coefficient vector c over the unit vectors (Gram matrix G of the units). */
function quad(g: Float64Array, c: Float64Array, n: number): number {
	let s = 0;
	for (let i = 0; i < n; i++) {
		for (let j = 0; j < n; j++) s += c[i]! * c[j]! * g[i * n + j]!;
	}
	return s;
}

/**
 * Weighted Karcher (Riemannian) mean of the inputs' unit directions on the hypersphere, scaled by the weighted
 * mean of their norms. The mean direction always lies in the span of the inputs, so it is tracked as
 * coefficients over the unit vectors and every inner product comes from one float64 Gram matrix: one pass to
 * build it, one to write the output, no tensor-sized temporaries.
 *
 * Inputs with norm ≤ tol are left out of the direction (their α renormalized away) but still count in the norm
 * average; if none is left the result is zeros. `maxIter` (an integer ≥ 1) and `tol` (≥ 0) are checked against the
 * method's declaration, as in a recipe (MethodError "InvalidParameter").
 */
export function karcher(tensors: readonly Float32Array[], opts: KarcherOptions = {}): Float32Array {
	const name = opts.tensorName ?? "<input>";
	checkParamValue("karcher", name, "max_iter", MAX_ITER, opts.maxIter);
	checkParamValue("karcher", name, "tol", TOL, opts.tol);
	return karcherKernel(tensors, opts);
}

/** {@link karcher} with checked `maxIter` and `tol` (by karcher(), or by the planner and the method's entry). */
function karcherKernel(tensors: readonly Float32Array[], opts: KarcherOptions): Float32Array {
	const name = opts.tensorName ?? "<input>";
	const length = assertInputs("karcher", name, undefined, tensors);
	const n = tensors.length;
	if (n === 1) return Float32Array.from(tensors[0]!);
	const maxIter = opts.maxIter ?? KARCHER_DEFAULT_MAX_ITER;
	const tol = opts.tol ?? KARCHER_DEFAULT_TOL;
	if (DEBUG_ASSERTS) {
		const fits = paramValueProblem(MAX_ITER, maxIter) === undefined && paramValueProblem(TOL, tol) === undefined;
		debugAssert(fits, () => `karcher tensor "${name}": max_iter = ${maxIter}, tol = ${tol}`);
	}
	const alphas = opts.weights ?? new Array<number>(n).fill(1 / n);
	if (alphas.length !== n) {
		throw new MethodError("InvalidInput", "karcher", `tensor "${name}": ${alphas.length} weights for ${n} tensors`);
	}
	const raw = offsetGram(tensors, undefined);
	const norms = Array.from({ length: n }, (_, i) => Math.sqrt(raw[i * n + i]!));
	const valid = norms.map((x) => x > tol);
	const out = new Float32Array(length);
	const validSum = alphas.reduce((s, a, i) => (valid[i] ? s + a : s), 0);
	if (!valid.some(Boolean) || validSum === 0) return out;
	// Gram matrix of the unit vectors uᵢ = xᵢ/‖xᵢ‖ (rows of invalid inputs stay 0 and are never used).
	const g = new Float64Array(n * n);
	for (let i = 0; i < n; i++) {
		for (let j = 0; j < n; j++) {
			if (valid[i] && valid[j]) g[i * n + j] = raw[i * n + j]! / (norms[i]! * norms[j]!);
		}
	}
	const alpha = alphas.map((a, i) => (valid[i] ? a / validSum : 0));
	// Start at the normalized weighted mean, or at the first valid input if that mean is ~0.
	let u = Float64Array.from(alpha);
	const startNorm = Math.sqrt(Math.max(0, quad(g, u, n)));
	if (startNorm < tol) {
		u = new Float64Array(n);
		u[valid.indexOf(true)] = 1;
	} else {
		u = u.map((c) => c / startNorm);
	}
	const cosTo = new Float64Array(n);
	for (let iter = 0; iter < maxIter; iter++) {
		for (let i = 0; i < n; i++) {
			let dot = 0;
			for (let j = 0; j < n; j++) dot += u[j]! * g[j * n + i]!;
			cosTo[i] = dot;
		}
		// Tangent T = Σ αᵢ·(θᵢ/sin θᵢ)·(uᵢ − cos θᵢ·u), as coefficients over the units.
		const tangent = new Float64Array(n);
		for (let i = 0; i < n; i++) {
			if (!valid[i]) continue;
			const cos = Math.min(1, Math.max(-1, cosTo[i]!));
			const theta = Math.acos(cos);
			if (theta < tol) continue;
			const sin = Math.sin(theta);
			if (sin < KARCHER_SIN_EPS) continue;
			const k = (alpha[i]! * theta) / sin;
			tangent[i]! += k;
			for (let j = 0; j < n; j++) tangent[j]! -= k * cos * u[j]!;
		}
		const tNorm = Math.sqrt(Math.max(0, quad(g, tangent, n)));
		if (tNorm < tol) break;
		const c = Math.cos(tNorm);
		const s = Math.sin(tNorm) / tNorm;
		u = u.map((uj, j) => c * uj + s * tangent[j]!);
		const uNorm = Math.sqrt(Math.max(0, quad(g, u, n)));
		if (uNorm > tol) u = u.map((uj) => uj / uNorm);
	}
	const scale = alphas.reduce((acc, a, i) => acc + a * norms[i]!, 0);
	const coeffs = Array.from({ length: n }, (_, i) => (valid[i] ? (scale * u[i]!) / norms[i]! : 0));
	combineOffsets(out, tensors, coeffs, undefined);
	return out;
}

/** Karcher mean: the Riemannian centre of the inputs' directions, with equal weights over all inputs. */
export const karcherMethod = defineMethod({
	name: "karcher",
	prettyName: "Karcher Mean",
	referenceUrl: "https://en.wikipedia.org/wiki/Karcher_mean",
	description:
		"Riemannian (Karcher) mean of the unit directions of all inputs on the hypersphere, scaled by their mean " +
		"norm. Like mergekit it ignores per-model weights (alpha = 1/N); a base model is simply one more input.",
	base: "optional",
	minModels: 1,
	params: {
		max_iter: MAX_ITER,
		tol: TOL,
	},
	modelParams: {},
	ignoredModelParams: ["weight"],
	merge({ tensorName, shape, base, models, params }) {
		const inputs = base === undefined ? models : [...models, base];
		assertInputs("karcher", tensorName, undefined, inputs, shape);
		return karcherKernel(inputs, { maxIter: params.max_iter, tol: params.tol, tensorName });
	},
});
