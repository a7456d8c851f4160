import { DEBUG_ASSERTS, debugAssert } from "../debug-assert.js";
import { MethodError } from "../errors.js";
import { arenaOf } from "../wasm/kernels.js";
import { defineMethod } from "./define.js";
import { mayWriteInputs } from "./in-place.js";
import { checkParamValue, paramValueProblem } from "./param-check.js";
import type { ChunkedForm, NumberParamDef } from "./types.js";

/** A tensor is normalized only when its L2 norm exceeds this (mergekit's eps); a near-zero tensor is left as is. */
export const SLERP_NORM_EPS = 1e-8;

/** Above this |cos θ| the directions are (anti)parallel and sin θ is too small to divide by: fall back to lerp. */
export const SLERP_DOT_THRESHOLD = 0.9995;

/**
 * The norm and dot-product sums are split into this many interleaved float64 partial sums per quantity (element i
 * goes to lane i mod 4): one running sum per quantity is bound by the latency of each float add, four independent
 * ones are not (about 1.4× faster). The order is part of the result's definition, see {@link slerpSums}.
 */
export const SLERP_LANES = 4;

/** The declaration of `t` (slerpMethod's parameter), which slerp() checks its `t` against. */
const T = {
	type: "number",
	required: true,
	min: 0,
	max: 1,
	description: "Interpolation factor: 0 = base, 1 = the other model.",
} as const satisfies NumberParamDef;

/**
 * Spherical interpolation of two whole tensors, treated as flat vectors: θ is the angle between them and
 * out = sin((1−t)θ)/sin θ · a + sin(tθ)/sin θ · b on the unnormalized tensors; when |cos θ| > 0.9995 (or cos θ is
 * not finite, e.g. a NaN in either input) out = (1−t)·a + t·b. t = 0 returns a copy of `a` and t = 1 a copy of `b`,
 * bit for bit. θ and the coefficients are float64 (mergekit uses float32; results differ by about 1 ulp).
 * t must lie in [0, 1], as in a recipe (MethodError "InvalidParameter"). The arguments are not modified.
 */
export function slerp(a: Float32Array, b: Float32Array, t: number, tensorName = "(tensor)"): Float32Array {
	checkParamValue("slerp", tensorName, "t", T, t);
	return slerpArrays(a, b, t, tensorName, false);
}

/**
 * {@link slerp} with a checked `t` (by slerp(), or by the planner and the method's entry; LM_MERGE_DEBUG=1 asserts
 * it); with `inPlace` the result is written into `a` (or is `a` / `b` itself at t = 0 / 1).
 */
function slerpArrays(a: Float32Array, b: Float32Array, t: number, tensorName: string, inPlace: boolean): Float32Array {
	if (a.length !== b.length) {
		throw new MethodError("InvalidInput", "slerp", `tensor "${tensorName}": ${a.length} elements vs ${b.length}`);
	}
	if (DEBUG_ASSERTS) debugAssert(paramValueProblem(T, t) === undefined, () => `slerp tensor "${tensorName}": t = ${t} is outside [0, 1]`);
	if (t === 0) return inPlace ? a : a.slice();
	if (t === 1) return inPlace ? b : b.slice();
	const sums = new Float64Array(3 * SLERP_LANES);
	slerpSums(a, b, sums, 0);
	const [ca, cb] = slerpCoefficients(...combineSlerpSums(sums), t);
	const out = inPlace ? a : new Float32Array(a.length);
	blendInto(out, a, b, ca, cb);
	return out;
}

/**
 * Adds elements [offset, offset + a.length) of the tensor pair to the lane sums: `sums[q·4 + l]` (q = 0: a·a,
 * 1: b·b, 2: a·b; lane l) accumulates the float64 products of the elements whose tensor index is ≡ l (mod 4), in
 * index order. Feeding a tensor in consecutive pieces (any sizes) therefore gives the same sums, bit for bit, as
 * feeding it whole.
 */
export function slerpSums(a: Float32Array, b: Float32Array, sums: Float64Array, offset: number): void {
	const n = a.length;
	// Head: elements before the first index ≡ 0 (mod 4), each into its own lane.
	let i = 0;
	for (; i < n && (offset + i) % SLERP_LANES !== 0; i++) addToLane(sums, (offset + i) % SLERP_LANES, a[i]!, b[i]!);
	// Locals, not array slots, in the hot loop: the twelve sums stay in registers.
	// Blocks in the WebAssembly arena: the whole groups of four run compiled (the same lanes, in the same order).
	const arena = arenaOf(a, b);
	const groups = (n - i) & ~3;
	if (arena !== undefined && groups > 0) {
		const scratch = arena.contrib[0].subarray(0, 3 * SLERP_LANES);
		scratch.set(sums);
		arena.k.slerp_sums(a.byteOffset + 4 * i, b.byteOffset + 4 * i, groups, scratch.byteOffset);
		sums.set(scratch);
		i += groups;
	}
	let aa0 = sums[0]!,
		aa1 = sums[1]!,
		aa2 = sums[2]!,
		aa3 = sums[3]!;
	let bb0 = sums[4]!,
		bb1 = sums[5]!,
		bb2 = sums[6]!,
		bb3 = sums[7]!;
	let ab0 = sums[8]!,
		ab1 = sums[9]!,
		ab2 = sums[10]!,
		ab3 = sums[11]!;
	for (; i + 4 <= n; i += 4) {
		const x0 = a[i]!,
			y0 = b[i]!;
		aa0 += x0 * x0;
		bb0 += y0 * y0;
		ab0 += x0 * y0;
		const x1 = a[i + 1]!,
			y1 = b[i + 1]!;
		aa1 += x1 * x1;
		bb1 += y1 * y1;
		ab1 += x1 * y1;
		const x2 = a[i + 2]!,
			y2 = b[i + 2]!;
		aa2 += x2 * x2;
		bb2 += y2 * y2;
		ab2 += x2 * y2;
		const x3 = a[i + 3]!,
			y3 = b[i + 3]!;
		aa3 += x3 * x3;
		bb3 += y3 * y3;
		ab3 += x3 * y3;
	}
	sums[0] = aa0;
	sums[1] = aa1;
	sums[2] = aa2;
	sums[3] = aa3;
	sums[4] = bb0;
	sums[5] = bb1;
	sums[6] = bb2;
	sums[7] = bb3;
	sums[8] = ab0;
	sums[9] = ab1;
	sums[10] = ab2;
	sums[11] = ab3;
	// Tail: the last n mod 4 elements (lanes 0, 1, 2 in turn).
	for (; i < n; i++) addToLane(sums, (offset + i) % SLERP_LANES, a[i]!, b[i]!);
}

function addToLane(sums: Float64Array, lane: number, x: number, y: number): void {
	sums[lane]! += x * x;
	sums[SLERP_LANES + lane]! += y * y;
	sums[2 * SLERP_LANES + lane]! += x * y;
}

/** ‖a‖², ‖b‖², ⟨a, b⟩ from the lane sums of {@link slerpSums}, each combined as (lane0 + lane1) + (lane2 + lane3). */
export function combineSlerpSums(sums: Float64Array): [number, number, number] {
	const q = (k: number): number => sums[k]! + sums[k + 1]! + (sums[k + 2]! + sums[k + 3]!);
	return [q(0), q(SLERP_LANES), q(2 * SLERP_LANES)];
}

/**
 * out[i] = ca·a[i] + cb·b[i] in float64, rounded once to float32. `out` may be `a` itself (the in-place blend,
 * with its own loop: two arrays per element are cheaper than three). Unrolled by 4: the loop overhead is a large
 * share of so small a body. Arrays in the WebAssembly arena run the compiled twin (native/kernels.c).
 */
export function blendInto(out: Float32Array, a: Float32Array, b: Float32Array, ca: number, cb: number): void {
	const n = out.length;
	const arena = arenaOf(out, a, b);
	if (arena !== undefined) {
		arena.k.slerp_blend(out.byteOffset, a.byteOffset, b.byteOffset, n, ca, cb);
		return;
	}
	let i = 0;
	if (out === a) {
		for (; i + 4 <= n; i += 4) {
			a[i] = ca * a[i]! + cb * b[i]!;
			a[i + 1] = ca * a[i + 1]! + cb * b[i + 1]!;
			a[i + 2] = ca * a[i + 2]! + cb * b[i + 2]!;
			a[i + 3] = ca * a[i + 3]! + cb * b[i + 3]!;
		}
	} else {
		for (; i + 4 <= n; i += 4) {
			out[i] = ca * a[i]! + cb * b[i]!;
			out[i + 1] = ca * a[i + 1]! + cb * b[i + 1]!;
			out[i + 2] = ca * a[i + 2]! + cb * b[i + 2]!;
			out[i + 3] = ca * a[i + 3]! + cb * b[i + 3]!;
		}
	}
	for (; i < n; i++) out[i] = ca * a[i]! + cb * b[i]!;
}

/**
 * The blend weights (of a and b) from ‖a‖², ‖b‖², ⟨a, b⟩: sin-weighted, or lerp's (1 − t, t) when the
 * tensors are (anti)parallel or the cosine is not finite.
 */
function slerpCoefficients(saa: number, sbb: number, sab: number, t: number): [number, number] {
	const na = Math.sqrt(saa);
	const nb = Math.sqrt(sbb);
	const cos = sab / ((na > SLERP_NORM_EPS ? na : 1) * (nb > SLERP_NORM_EPS ? nb : 1));
	if (!(Math.abs(cos) <= SLERP_DOT_THRESHOLD)) return [1 - t, t];
	const theta = Math.acos(cos);
	const sinTheta = Math.sin(theta);
	return [Math.sin(theta - theta * t) / sinTheta, Math.sin(theta * t) / sinTheta];
}

/**
 * SLERP as a chunked kernel: one scan pass feeds every chunk to {@link slerpSums} at its offset (the same lane
 * sums as the whole-tensor kernel, so the bytes agree for any chunking), then each chunk is blended in place.
 */
const slerpChunked: ChunkedForm<{ t: number }, Record<string, never>> = {
	supports: () => true,
	create({ params }) {
		const t = params.t;
		const sums = new Float64Array(3 * SLERP_LANES);
		let coef: [number, number] | undefined;
		return {
			scanPasses: t === 0 || t === 1 ? 0 : 1,
			scan(_pass, { offset, base, models }) {
				slerpSums(base!, models[0]!, sums, offset);
			},
			emit({ base, models }) {
				const a = base!;
				const b = models[0]!;
				if (t === 0) return a;
				if (t === 1) return b;
				coef ??= slerpCoefficients(...combineSlerpSums(sums), t);
				blendInto(a, a, b, coef[0], coef[1]);
				return a;
			},
		};
	},
};

/** SLERP between the base model (t = 0) and one other model (t = 1). */
export const slerpMethod = defineMethod({
	name: "slerp",
	prettyName: "SLERP",
	referenceUrl: "https://en.wikipedia.org/wiki/Slerp",
	description:
		"Spherical linear interpolation between the base model (t = 0) and the other model (t = 1), over each whole " +
		"tensor; nearly parallel tensors are interpolated linearly.",
	base: "required",
	minModels: 1,
	maxModels: 1,
	params: { t: T },
	modelParams: {},
	chunked: slerpChunked,
	merge(input) {
		const { tensorName, base, models, params } = input;
		if (base === undefined || models.length !== 1) {
			const got = `${models.length} other model(s)${base === undefined ? " and no base" : ""}`;
			throw new MethodError("InvalidInput", "slerp", `tensor "${tensorName}": needs the base and exactly 1 other model, got ${got}`);
		}
		return slerpArrays(base, models[0]!, params.t, tensorName, mayWriteInputs(input));
	},
});
