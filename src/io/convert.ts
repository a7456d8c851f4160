/**
 * Float conversions between safetensors bytes and float32: the hot path of every merge (each input tensor
 * is decoded once, each output tensor encoded once). This file decodes (safetensors bytes → float32) and is the
 * one import for all conversions: encoding lives in encode.ts and the one-value-at-a-time rounding in
 * float-bits.ts. The loops work on integer views (Uint16Array / Int32Array) of the buffers: no DataView, no
 * per-element allocation.
 */
import type { FloatDtype } from "./dtypes.js";
import { f16BitsToF32Bits } from "./float-bits.js";

export { allFiniteF32, encodeChecked, encodeFromF32, firstNonFinite, type NonFiniteAt } from "./encode.js";
export { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "./float-bits.js";

const ELEMENT_BYTES: Record<FloatDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

/**
 * f16 → f32 bit patterns for all 65536 inputs (256 KiB), built on first use: one load per element. Int32, not
 * Uint32: patterns ≥ 2^31 (negative values) would otherwise reach the JIT as doubles and slow the loop down.
 */
let f16Table: Int32Array | undefined;
function f16ToF32Table(): Int32Array {
	if (f16Table === undefined) {
		f16Table = new Int32Array(65536);
		for (let h = 0; h < 65536; h++) {
			f16Table[h] = f16BitsToF32Bits(h) | 0;
		}
	}
	return f16Table;
}

/** Number of elements in `byteLength` bytes of `dtype`; throws a RangeError (a caller bug) on a ragged length. */
function elementCount(byteLength: number, dtype: FloatDtype, what: string): number {
	const size = ELEMENT_BYTES[dtype];
	if (byteLength % size !== 0) {
		throw new RangeError(`${what}: ${byteLength} bytes is not a whole number of ${dtype} elements (${size} bytes each)`);
	}
	return byteLength / size;
}

/**
 * Decodes little-endian `dtype` bytes to float32. `bytes` may be any view, also at an odd byteOffset.
 * The result never aliases `bytes`; with `out` (exactly the element count long) it is written there.
 */
export function decodeToF32(bytes: Uint8Array, dtype: FloatDtype, out?: Float32Array): Float32Array {
	const n = elementCount(bytes.byteLength, dtype, "decodeToF32");
	if (out !== undefined && out.length !== n) {
		throw new RangeError(`decodeToF32: out has ${out.length} elements, the ${dtype} input has ${n}`);
	}
	const dst = out ?? new Float32Array(n);
	if (n === 0) {
		return dst;
	}
	const dstBytes = new Uint8Array(dst.buffer, dst.byteOffset, n * 4);
	if (dtype === "F32") {
		dstBytes.set(bytes);
		return dst;
	}
	if (dtype === "F64") {
		const src =
			bytes.byteOffset % 8 === 0 ? new Float64Array(bytes.buffer, bytes.byteOffset, n) : new Float64Array(bytes.slice().buffer, 0, n);
		for (let i = 0; i < n; i++) {
			dst[i] = src[i]!;
		}
		return dst;
	}
	// 16-bit input. If it is unaligned, copy it into the upper half of the output first: decoding forward
	// then never overwrites an element before it has been read (element i is written to bytes 4i..4i+3,
	// below the source bytes 2n+2i.. of every element not yet read).
	let src: Uint16Array;
	if (bytes.byteOffset % 2 === 0) {
		src = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
	} else {
		dstBytes.set(bytes, n * 2);
		src = new Uint16Array(dst.buffer, dst.byteOffset + n * 2, n);
	}
	const d32 = new Int32Array(dst.buffer, dst.byteOffset, n);
	if (dtype === "F16") {
		decodeF16(src, d32, f16ToF32Table());
	} else if (src.byteOffset % 4 === 0) {
		// Two bf16 values per 32-bit load; an odd last element is finished on its own.
		decodeBf16Pairs(new Int32Array(src.buffer, src.byteOffset, n >>> 1), d32);
		if (n % 2 === 1) {
			d32[n - 1] = src[n - 1]! << 16;
		}
	} else {
		decodeBf16(src, d32);
	}
	return dst;
}

// The loops below are unrolled by 4 to 8 elements: V8 does not unroll, and per-iteration overhead (bounds
// check, loop branch) is a large share of such small bodies (about 1.5–2× faster on 64 Ki-element blocks).
// Decoding forward is also safe when `src` lies in the upper half of `dst` (see decodeToF32): element i's
// write ends at byte 4i + 4, never past the source bytes still unread.

/** bf16 words → f32 bits, one 16-bit load per element. */
function decodeBf16(src: Uint16Array, dst: Int32Array): void {
	const n = dst.length;
	let i = 0;
	for (; i + 8 <= n; i += 8) {
		dst[i] = src[i]! << 16;
		dst[i + 1] = src[i + 1]! << 16;
		dst[i + 2] = src[i + 2]! << 16;
		dst[i + 3] = src[i + 3]! << 16;
		dst[i + 4] = src[i + 4]! << 16;
		dst[i + 5] = src[i + 5]! << 16;
		dst[i + 6] = src[i + 6]! << 16;
		dst[i + 7] = src[i + 7]! << 16;
	}
	for (; i < n; i++) {
		dst[i] = src[i]! << 16;
	}
}

/** Pairs of bf16 values read as one little-endian int32 word (low half first) → 2·words.length f32 bit patterns. */
function decodeBf16Pairs(words: Int32Array, dst: Int32Array): void {
	const m = words.length;
	let j = 0;
	for (; j + 4 <= m; j += 4) {
		const k = 2 * j;
		const w0 = words[j]!;
		const w1 = words[j + 1]!;
		const w2 = words[j + 2]!;
		const w3 = words[j + 3]!;
		dst[k] = w0 << 16;
		dst[k + 1] = w0 & -0x10000;
		dst[k + 2] = w1 << 16;
		dst[k + 3] = w1 & -0x10000;
		dst[k + 4] = w2 << 16;
		dst[k + 5] = w2 & -0x10000;
		dst[k + 6] = w3 << 16;
		dst[k + 7] = w3 & -0x10000;
	}
	for (; j < m; j++) {
		const w = words[j]!;
		dst[2 * j] = w << 16;
		dst[2 * j + 1] = w & -0x10000;
	}
}

/** f16 words → f32 bits through the 65536-entry table. */
function decodeF16(src: Uint16Array, dst: Int32Array, table: Int32Array): void {
	const n = dst.length;
	let i = 0;
	for (; i + 4 <= n; i += 4) {
		dst[i] = table[src[i]!]!;
		dst[i + 1] = table[src[i + 1]!]!;
		dst[i + 2] = table[src[i + 2]!]!;
		dst[i + 3] = table[src[i + 3]!]!;
	}
	for (; i < n; i++) {
		dst[i] = table[src[i]!]!;
	}
}
