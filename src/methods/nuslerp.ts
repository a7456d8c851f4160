import { assertInputs, assertModelCount, rowLength } from "../tensor/vector-ops.js";
import { defineMethod } from "./define.js";

/** Below this |w₁ + w₂| the interpolation factor is undefined; mergekit then uses t = 0.5 and so do we. */
const NUSLERP_WEIGHT_SUM_EPS = 1e-6;
/** Norms are clamped to at least this before dividing, so zero vectors give û = 0 rather than NaN (mergekit's value). */
const NUSLERP_NORM_EPS = 1e-7;
/** Below this |sin θ| the two directions are (anti)parallel and the sin blend is 0/0: fall back to lerp. */
const NUSLERP_SIN_EPS = 1e-8;

/** Options of {@link nuslerp}: an optional base (task-vector mode) and whether to interpolate whole, by row or by column. */
interface NuslerpOptions {
	/** With a base, the task vectors `a − base` and `b − base` are interpolated and the base is added back. */
	base?: Float32Array;
	/** The tensor's shape; needed for the row / column modes (default: one flat vector). */
	shape?: readonly number[];
	/** Treat the whole tensor as one vector (default true; wins over `rowWise`). */
	flatten?: boolean;
	/** Without flatten: interpolate each vector along dim 0 (each column of a [out, in] weight) instead of each row. */
	rowWise?: boolean;
	/** Used in error messages. */
	tensorName?: string;
}

/** The interpolation factor from the two model weights: w₂ / (w₁ + w₂), or 0.5 when the sum is ~0. */
export function nuslerpT(w1: number, w2: number): number {
	const sum = w1 + w2;
	return Math.abs(sum) < NUSLERP_WEIGHT_SUM_EPS ? 0.5 : w2 / sum;
}

/**
 * The two SLERP coefficients (c0, c1) for vectors with squared norms `ss0`, `ss1` and inner product `dot`:
 * the result is c0·v0 + c1·v1. Lerp coefficients when |sin θ| is below NUSLERP_SIN_EPS.
 */
function coefficients(ss0: number, ss1: number, dot: number, t: number, out: Float64Array, at: number): void {
	const n0 = Math.max(Math.sqrt(ss0), NUSLERP_NORM_EPS);
	const n1 = Math.max(Math.sqrt(ss1), NUSLERP_NORM_EPS);
	const cos = Math.min(1, Math.max(-1, dot / (n0 * n1)));
	const theta = Math.acos(cos);
	const sin = Math.sin(theta);
	if (!(Math.abs(sin) >= NUSLERP_SIN_EPS)) {
		out[at] = 1 - t;
		out[at + 1] = t;
	} else {
		out[at] = Math.sin((1 - t) * theta) / sin;
		out[at + 1] = Math.sin(t * theta) / sin;
	}
}

/**
 * Spherical interpolation between `a` (t = 0) and `b` (t = 1), on the whole tensor, on each row (last axis) or
 * on each column (dim 0, `rowWise`). Norms and dot products accumulate in float64; the column mode keeps
 * per-column sums in arrays of the row length instead of transposing.
 */
export function nuslerp(a: Float32Array, b: Float32Array, t: number, opts: NuslerpOptions = {}): Float32Array {
	const base = opts.base;
	const length = assertInputs("nuslerp", opts.tensorName ?? "<input>", base, [a, b], opts.shape);
	const shape = opts.shape ?? [length];
	const flatten = opts.flatten ?? true;
	const out = new Float32Array(length);
	if (length === 0) return out;
	const v = (x: Float32Array, k: number): number => x[k]! - (base === undefined ? 0 : base[k]!);
	const put = (k: number, c0: number, c1: number): void => {
		out[k] = (base === undefined ? 0 : base[k]!) + c0 * v(a, k) + c1 * v(b, k);
	};
	if (!flatten && opts.rowWise === true && shape.length > 1) {
		// Vectors along dim 0: column r holds elements r, r + R, r + 2R, … of the [d0, R] view.
		const cols = length / shape[0]!;
		const ss0 = new Float64Array(cols);
		const ss1 = new Float64Array(cols);
		const dot = new Float64Array(cols);
		for (let k = 0; k < length; k++) {
			const r = k % cols;
			const x0 = v(a, k);
			const x1 = v(b, k);
			ss0[r]! += x0 * x0;
			ss1[r]! += x1 * x1;
			dot[r]! += x0 * x1;
		}
		const coef = new Float64Array(2 * cols);
		for (let r = 0; r < cols; r++) coefficients(ss0[r]!, ss1[r]!, dot[r]!, t, coef, 2 * r);
		for (let k = 0; k < length; k++) {
			const r = k % cols;
			put(k, coef[2 * r]!, coef[2 * r + 1]!);
		}
		return out;
	}
	const rowLen = rowLength(shape, length, flatten);
	const coef = new Float64Array(2);
	for (let start = 0; start < length; start += rowLen) {
		let ss0 = 0;
		let ss1 = 0;
		let dot = 0;
		for (let k = start; k < start + rowLen; k++) {
			const x0 = v(a, k);
			const x1 = v(b, k);
			ss0 += x0 * x0;
			ss1 += x1 * x1;
			dot += x0 * x1;
		}
		coefficients(ss0, ss1, dot, t, coef, 0);
		for (let k = start; k < start + rowLen; k++) put(k, coef[0]!, coef[1]!);
	}
	return out;
}

/** NuSLERP: SLERP of two models (or of their task vectors when a base is given) with t = w₂/(w₁+w₂). */
export const nuslerpMethod = defineMethod({
	name: "nuslerp",
	prettyName: "NuSLERP",
	referenceUrl: "https://github.com/arcee-ai/mergekit/blob/main/docs/merge_methods.md",
	description:
		"Spherical interpolation of exactly two models with t = w2/(w1+w2); with a base model it interpolates the " +
		"task vectors and adds the base back. Whole tensor by default, or per row / per column.",
	base: "optional",
	minModels: 2,
	maxModels: 2,
	params: {
		nuslerp_flatten: { type: "boolean", default: true, description: "Treat the whole tensor as one vector" },
		nuslerp_row_wise: {
			type: "boolean",
			default: false,
			description: "Without flatten: interpolate column vectors (along dim 0) instead of rows",
		},
	},
	modelParams: {
		weight: { type: "number", required: true, description: "Relative weight of this model" },
	},
	merge({ tensorName, shape, base, models, params, modelParams }) {
		assertModelCount("nuslerp", tensorName, models.length, 2, 2);
		const [a, b] = models as [Float32Array, Float32Array];
		const t = nuslerpT(modelParams[0]!.weight, modelParams[1]!.weight);
		return nuslerp(a, b, t, {
			...(base !== undefined ? { base } : {}),
			shape,
			flatten: params.nuslerp_flatten,
			rowWise: params.nuslerp_row_wise,
			tensorName,
		});
	},
});
