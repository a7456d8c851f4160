/**
 * decodeToF32 / encodeFromF32 pick a loop by alignment and length (two 16-bit values per 32-bit word when the
 * view is 4-byte aligned, one at a time otherwise, an odd last element on its own). Every path must give the
 * scalar helpers' bits, whatever the offsets and lengths.
 */
import { describe, expect, test } from "vitest";
import { bf16BitsToF32, decodeToF32, encodeFromF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "../../src/io/convert.js";

const LENGTHS = [1, 2, 3, 7, 8, 9, 16, 17, 1023, 1024];
const OFFSETS = [0, 1, 2, 3];

/** Pseudo-random 32-bit patterns (NaNs, Infs, subnormals included) plus a few chosen edge values. */
function patterns(n: number, seed: number): Uint32Array {
	const u = new Uint32Array(n);
	let x = seed;
	for (let i = 0; i < n; i++) {
		x = (Math.imul(x, 1103515245) + 12345) >>> 0;
		u[i] = (x ^ (x >>> 15)) >>> 0;
	}
	const edges = [0x7fc00000, 0x00000000, 0x80000000, 0x3f808000, 0x3f818000, 0x7f7fffff, 0xff800001, 0x38800000, 0x477ff000];
	u.set(edges.slice(0, n));
	return u;
}

/** `bytes` copied to a fresh buffer at byte offset `offset`. */
function at(bytes: Uint8Array, offset: number): Uint8Array {
	const buf = new Uint8Array(bytes.byteLength + offset);
	buf.set(bytes, offset);
	return buf.subarray(offset);
}

describe.each([["BF16", f32ToBf16Bits, bf16BitsToF32] as const, ["F16", f32ToF16Bits, f16BitsToF32] as const])(
	"%s paths",
	(dtype, encodeOne, decodeOne) => {
		test("encoding agrees with the scalar helper for every length and output offset", () => {
			for (const n of LENGTHS) {
				const bits = patterns(n, n);
				const src = new Float32Array(bits.buffer);
				const expected = Array.from(src, (v) => encodeOne(v));
				for (const offset of OFFSETS) {
					const out = at(new Uint8Array(2 * n), offset);
					encodeFromF32(src, dtype, out);
					const got = Array.from({ length: n }, (_, i) => out[2 * i]! | (out[2 * i + 1]! << 8));
					expect(got).toEqual(expected);
				}
			}
		});
		test("encoding reads a Float32Array at a non-zero offset", () => {
			const bits = patterns(9, 99);
			const big = new Float32Array(12);
			new Uint32Array(big.buffer).set(bits, 3);
			const view = big.subarray(3);
			const got = new Uint16Array(encodeFromF32(view, dtype).buffer);
			expect(Array.from(got)).toEqual(Array.from(view, (v) => encodeOne(v)));
		});
		test("decoding agrees with the scalar helper for every length and input offset", () => {
			for (const n of LENGTHS) {
				const words = new Uint16Array(patterns(n, 7 * n).map((u) => u & 0xffff));
				const expected = Array.from(words, (h) => decodeOne(h));
				for (const offset of OFFSETS) {
					const got = decodeToF32(at(new Uint8Array(words.buffer), offset), dtype);
					expect(got.length).toBe(n);
					got.forEach((v, i) => {
						if (Number.isNaN(expected[i]) ? !Number.isNaN(v) : !Object.is(v, expected[i])) {
							expect.fail(`n ${n}, offset ${offset}, element ${i}: 0x${words[i]!.toString(16)} gave ${v}, scalar ${expected[i]}`);
						}
					});
				}
			}
		});
		test("decoding into a caller's out array that sits at an offset in a larger buffer", () => {
			const words = new Uint16Array([0x3f80, 0xc000, 0x7c00, 0x0001, 0x8000]);
			const backing = new Float32Array(8).fill(42);
			const out = backing.subarray(2, 7);
			expect(decodeToF32(new Uint8Array(words.buffer), dtype, out)).toBe(out);
			expect(Array.from(out)).toEqual(Array.from(words, (h) => decodeOne(h)));
			expect([backing[0], backing[1], backing[7]]).toEqual([42, 42, 42]);
		});
	},
);
