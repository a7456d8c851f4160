/**
 * The glue every tfjs kernel shares: the kernel signature, chunked upload / compute / download, float64
 * accumulation of per-chunk reductions, and readers for resolved parameter values.
 */
import type { Tensor } from "@tensorflow/tfjs";
import type { MergeContext, MergeInput, MergeMethod, ParamSpec } from "../methods/types.js";
import type { Tf } from "../tfjs/loader.js";

/** Resolved parameter values as the planner hands them over (plain numbers, booleans and strings). */
export type Values = Readonly<Record<string, unknown>>;

/** A kernel's view of a MergeInput: parameters are read by name, since one table holds every method. */
export type TfjsInput = MergeInput<Values, Values>;

/** What a kernel computes with: the tfjs namespace (its backend already active) and the chunk length. */
export interface TfjsEnv {
	readonly tf: Tf;
	/** Elements per upload; every tensor-sized tfjs buffer holds at most this many. */
	readonly chunkElements: number;
}

/**
 * A tfjs implementation of a registered method: same input, same output as `method.merge`. Returning undefined
 * declines the input (invalid or degenerate parameters, exact-copy cases) and the backend runs the CPU kernel,
 * which then produces the exact result or the proper MethodError.
 */
export type TfjsKernel = (env: TfjsEnv, input: TfjsInput, ctx: MergeContext, method: MergeMethod) => Float32Array | undefined;

/** Calls `visit(start, end)` over [0, n) in ranges of at most `size` elements. */
function forEachChunk(n: number, size: number, visit: (start: number, end: number) => void): void {
	for (let start = 0; start < n; start += size) visit(start, Math.min(n, start + size));
}

/** Uploads elements [start, end) of `array` as a float32 tensor1d (tracked by the surrounding tf.tidy). */
export function upload(tf: Tf, array: Float32Array, start: number, end: number): Tensor {
	return tf.tensor1d(array.subarray(start, end), "float32");
}

/** Uploads elements [start, end) of a 0/1 mask as a bool tensor1d. */
export function uploadMask(tf: Tf, mask: Uint8Array, start: number, end: number): Tensor {
	return tf.tensor1d(mask.subarray(start, end), "bool");
}

/**
 * Builds the n-element output chunk by chunk: `compute(start, end)` runs inside tf.tidy and returns the chunk's
 * values; they are copied into a fresh array (never aliasing an input) and the tensor is disposed.
 */
export function mapChunks(env: TfjsEnv, n: number, compute: (start: number, end: number) => Tensor): Float32Array {
	const out = new Float32Array(n);
	forEachChunk(n, env.chunkElements, (start, end) => {
		const chunk = env.tf.tidy(() => compute(start, end));
		try {
			out.set(chunk.dataSync() as Float32Array, start);
		} finally {
			chunk.dispose();
		}
	});
	return out;
}

/**
 * Whole-tensor reductions: `compute(start, end)` returns a 1-D tensor of `count` partial sums for one chunk (inside
 * tf.tidy); the partials are added in float64 across chunks.
 */
export function reduceChunks(env: TfjsEnv, n: number, count: number, compute: (start: number, end: number) => Tensor): Float64Array {
	const totals = new Float64Array(count);
	forEachChunk(n, env.chunkElements, (start, end) => {
		const partial = env.tf.tidy(() => compute(start, end));
		try {
			const values = partial.dataSync();
			for (let i = 0; i < count; i++) totals[i]! += values[i]!;
		} finally {
			partial.dispose();
		}
	});
	return totals;
}

/**
 * `values[key]`, else the spec's default, else `fallback`; undefined when that is not a number or is NaN (the
 * kernel then declines and the CPU kernel reports the bad value).
 */
export function numberParam(values: Values | undefined, key: string, spec: ParamSpec, fallback?: number): number | undefined {
	const v = values?.[key] ?? spec[key]?.default ?? fallback;
	return typeof v === "number" && !Number.isNaN(v) ? v : undefined;
}

/** `values[key]`, else the spec's default; undefined unless it is a boolean. */
export function booleanParam(values: Values | undefined, key: string, spec: ParamSpec): boolean | undefined {
	const v = values?.[key] ?? spec[key]?.default;
	return typeof v === "boolean" ? v : undefined;
}

/** True when every array has length `n`. */
export function allLength(arrays: readonly Float32Array[], n: number): boolean {
	return arrays.every((a) => a.length === n);
}

/**
 * The largest float32 ≤ x. For a float32 value v, `v > x` holds exactly when `v > float32AtMost(x)`, so a tfjs
 * comparison against this threshold decides like the CPU kernel's comparison against the float64 x.
 */
export function float32AtMost(x: number): number {
	const f = Math.fround(x);
	if (!(f > x)) return f;
	const cell = new Float32Array([f]);
	const bits = new Int32Array(cell.buffer);
	if (f > 0) bits[0]! -= 1;
	else if (f < 0) bits[0]! += 1;
	else bits[0] = 0x80000001 | 0; // x is a negative number that rounds to zero: the smallest negative subnormal.
	return cell[0]!;
}
