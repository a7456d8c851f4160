/**
 * SLERP's lane-split sums: the chunked kernel (scan + emit) must give the whole-tensor kernel's bytes for any
 * chunking, and the sums must follow the order documented in docs/methods.md.
 */
import { describe, expect, test } from "vitest";
import { CHUNK_ALIGN } from "../../src/methods/chunked.js";
import { blendInto, combineSlerpSums, SLERP_LANES, slerp, slerpMethod, slerpSums } from "../../src/methods/slerp.js";
import { wasmArena } from "../../src/wasm/kernels.js";
import { float32Bits } from "../helpers/arrays.js";
import { mergeContext } from "../helpers/context.js";
import { randomArray } from "../helpers/random.js";

/** Two full 64 Ki chunks plus a ragged tail, so every chunk size below also meets a short last chunk. */
const N = 2 * 65536 + 777;
const NAME = "model.layers.0.mlp.up_proj.weight";

/** Runs the chunked form over consecutive chunks of `step` elements (copies: emit overwrites its inputs). */
function runChunked(a: Float32Array, b: Float32Array, t: number, step: number, inArena = false): Float32Array {
	const kernel = slerpMethod.chunked!.create(
		{ tensorName: NAME, shape: [a.length], numel: a.length, params: { t }, modelParams: [{}], models: 1 },
		mergeContext(0, NAME),
	);
	// In the arena (as the executor places its blocks) the compiled sums and blend run.
	const place = (src: Float32Array, slot: number) => (inArena ? inSlot(src, slot) : src);
	const chunkAt = (offset: number) => {
		const end = Math.min(offset + step, a.length);
		return { offset, base: place(a.slice(offset, end), 0), models: [place(b.slice(offset, end), 1)] };
	};
	for (let pass = 0; pass < kernel.scanPasses; pass++) {
		for (let offset = 0; offset < a.length; offset += step) kernel.scan(pass, chunkAt(offset));
	}
	const out = new Float32Array(a.length);
	for (let offset = 0; offset < a.length; offset += step) out.set(kernel.emit(chunkAt(offset)), offset);
	return out;
}

/** `src` copied into arena slot `slot` (a view of the slot). */
function inSlot(src: Float32Array, slot: number): Float32Array {
	const view = wasmArena()!.slots[slot]!.subarray(0, src.length);
	view.set(src);
	return view;
}

describe("slerp chunked", () => {
	const a = randomArray(N, 1);
	const b = randomArray(N, 2).map((y, i) => 0.3 * y + 0.7 * a[i]!); // correlated: a real angle, not ~90°
	test.each([CHUNK_ALIGN, 4 * CHUNK_ALIGN, 65536])("chunks of %d elements give the whole kernel's bytes", (step) => {
		for (const t of [0.25, 0.5, 0.9]) {
			expect(float32Bits(runChunked(a, b, t, step))).toEqual(float32Bits(slerp(a, b, t)));
			expect(float32Bits(runChunked(a, b, t, step, true))).toEqual(float32Bits(slerp(a, b, t)));
		}
	});
	/** The lane sums fed in pieces of the given sizes (cycled), each piece placed by `place`. */
	const sumsInPieces = (cuts: number[], place: (x: Float32Array, slot: number) => Float32Array): number[] => {
		const pieces = new Float64Array(3 * SLERP_LANES);
		for (let at = 0, k = 0; at < N; k++) {
			const end = Math.min(N, at + cuts[k % cuts.length]!);
			slerpSums(place(a.subarray(at, end), 0), place(b.subarray(at, end), 1), pieces, at);
			at = end;
		}
		return Array.from(pieces);
	};
	test("the lane sums do not depend on how the tensor is cut, even at offsets that are not multiples of 4", () => {
		const whole = new Float64Array(3 * SLERP_LANES);
		slerpSums(a, b, whole, 0);
		for (const cuts of [[1, 2, 3, 5, 1000], [3, 7, 4093], [65535]]) expect(sumsInPieces(cuts, (x) => x)).toEqual(Array.from(whole));
	});
	test("the compiled sums (blocks in the arena) equal the TypeScript ones, whatever the cuts", () => {
		const whole = new Float64Array(3 * SLERP_LANES);
		slerpSums(a, b, whole, 0);
		for (const cuts of [[1, 2, 3, 5, 1000], [3, 7, 4093], [65536]]) expect(sumsInPieces(cuts, inSlot)).toEqual(Array.from(whole));
	});
	test("the compiled blend equals blendInto's TypeScript loop, in place and not", () => {
		const n = 5003;
		const js = new Float32Array(n);
		blendInto(js, a.subarray(0, n), b.subarray(0, n), 0.6180339887, -0.25);
		const out = inSlot(new Float32Array(n), 2);
		blendInto(out, inSlot(a.subarray(0, n), 0), inSlot(b.subarray(0, n), 1), 0.6180339887, -0.25);
		expect(float32Bits(out)).toEqual(float32Bits(js));
		const x = inSlot(a.subarray(0, n), 0);
		blendInto(x, x, inSlot(b.subarray(0, n), 1), 0.6180339887, -0.25);
		expect(float32Bits(x)).toEqual(float32Bits(js));
	});
	test("the sums follow the documented order: lane i mod 4 in index order, then (l0 + l1) + (l2 + l3)", () => {
		const x = randomArray(4099, 3);
		const y = randomArray(4099, 4);
		const lanes = Array.from({ length: 12 }, () => 0);
		for (let i = 0; i < x.length; i++) {
			lanes[i % 4]! += x[i]! * x[i]!;
			lanes[4 + (i % 4)]! += y[i]! * y[i]!;
			lanes[8 + (i % 4)]! += x[i]! * y[i]!;
		}
		const sums = new Float64Array(12);
		slerpSums(x, y, sums, 0);
		expect(Array.from(sums)).toEqual(lanes);
		const q = (k: number) => lanes[k]! + lanes[k + 1]! + (lanes[k + 2]! + lanes[k + 3]!);
		expect(combineSlerpSums(sums)).toEqual([q(0), q(4), q(8)]);
		// Lanes where the grouping shows: (2^53 + 1) + (1 + 1) = 2^53 + 2, while a left-to-right sum stays at 2^53.
		const big = 2 ** 53;
		expect(combineSlerpSums(new Float64Array([big, 1, 1, 1, 1, 1, 1, big, 0, 0, 0, 0]))).toEqual([big + 2, big + 2, 0]);
	});
	test("t = 0 and t = 1 return the inputs bit for bit through the chunked form too (no scan pass)", () => {
		const withNaN = a.slice();
		withNaN[5] = Number.NaN;
		withNaN[6] = -0;
		expect(float32Bits(runChunked(withNaN, b, 0, CHUNK_ALIGN))).toEqual(float32Bits(withNaN));
		expect(float32Bits(runChunked(withNaN, b, 1, CHUNK_ALIGN))).toEqual(float32Bits(b));
	});
	test("a NaN in a chunk takes the lerp branch for the whole tensor, as in the whole kernel", () => {
		const withNaN = a.slice();
		withNaN[70000] = Number.NaN;
		const chunked = runChunked(withNaN, b, 0.4, 4 * CHUNK_ALIGN);
		expect(float32Bits(chunked)).toEqual(float32Bits(slerp(withNaN, b, 0.4)));
		expect(chunked[70000]).toBeNaN();
		expect(chunked[0]).toBe(Math.fround(0.6 * withNaN[0]! + 0.4 * b[0]!));
	});
	test.each([0, 1, 3, 4, 5, 11])("blendInto on %d elements, in place and into another array, matches the formula", (n) => {
		const x = randomArray(n, 5);
		const y = randomArray(n, 6);
		const expected = Array.from(x, (v, i) => Math.fround(0.7 * v + -0.2 * y[i]!));
		const out = new Float32Array(n);
		blendInto(out, x, y, 0.7, -0.2);
		expect(Array.from(out)).toEqual(expected);
		blendInto(x, x, y, 0.7, -0.2);
		expect(Array.from(x)).toEqual(expected);
	});
});
