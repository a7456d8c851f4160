/**
 * Float conversions between safetensors bytes and float32: the hot path of every merge (each input tensor
 * is decoded once, each output tensor encoded once). The loops work on integer views (Uint16Array /
 * Uint32Array) of the buffers: no DataView, no per-element allocation. Rounding is round-to-nearest-even
 * everywhere; NaN stays a quiet NaN with its sign, overflow goes to ±Inf, subnormals are handled both ways.
 * The scalar helpers at the end (f32ToBf16Bits, …) define the same rounding one value at a time.
 */
import { LmMergeError } from "../errors.js";
import type { FloatDtype } from "./dtypes.js";

// Typed-array views use the host byte order; safetensors data is little-endian, so refuse to run elsewhere
// rather than silently byte-swap every weight.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
	throw new LmMergeError("lm-merge needs a little-endian host: safetensors data is little-endian and is read through typed-array views");
}

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
			bytes.byteOffset % 8 === 0
				? new Float64Array(bytes.buffer, bytes.byteOffset, n)
				: new Float64Array(bytes.slice().buffer, 0, n);
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

/**
 * Encodes float32 values as little-endian `dtype` bytes (round-to-nearest-even for F16 / BF16).
 * With `out` (exactly src.length × element size bytes, any byteOffset) the bytes are written there.
 */
export function encodeFromF32(src: Float32Array, dtype: FloatDtype, out?: Uint8Array): Uint8Array {
	const dst = out ?? new Uint8Array(src.length * ELEMENT_BYTES[dtype]);
	encodeChecked(src, dtype, dst);
	return dst;
}

/**
 * encodeFromF32 into `out`, returning whether every encoded value is finite: false when the output holds a NaN or an
 * infinity, including a finite float32 that overflows the dtype (70000 in F16, 3.4e38 in BF16). The check is folded
 * into the encode loops (an OR of the exponent bits of each result, see allOnesBit), so it costs a few integer
 * operations per pair of values; for F32, whose encoding is a copy, it is one extra read-only pass (allFiniteF32).
 */
export function encodeChecked(src: Float32Array, dtype: FloatDtype, out: Uint8Array): boolean {
	const n = src.length;
	const size = ELEMENT_BYTES[dtype];
	if (out.byteLength !== n * size) {
		throw new RangeError(`encodeFromF32: out has ${out.byteLength} bytes, ${n} ${dtype} elements need ${n * size}`);
	}
	if (n === 0) {
		return true;
	}
	if (dtype === "F32") {
		out.set(new Uint8Array(src.buffer, src.byteOffset, n * 4));
		return allFiniteF32(src);
	}
	let acc = 0;
	// Encode into an aligned buffer: `out` itself when its offset allows the typed view, else a temporary.
	const aligned = out.byteOffset % size === 0 ? out : new Uint8Array(n * size);
	if (dtype === "F64") {
		const d64 = new Float64Array(aligned.buffer, aligned.byteOffset, n);
		for (let i = 0; i < n; i++) {
			d64[i] = src[i]!;
		}
		acc = allFiniteF32(src) ? 0 : ALL_ONES_PAIR;
	} else {
		// Int32 views: a Uint32Array would hand bit patterns ≥ 2^31 to the JIT as doubles.
		const s32 = new Int32Array(src.buffer, src.byteOffset, n);
		const bf16 = dtype === "BF16";
		if (aligned.byteOffset % 4 === 0) {
			// Two output values per 32-bit store; an odd last element is finished on its own.
			const words = new Int32Array(aligned.buffer, aligned.byteOffset, n >>> 1);
			acc = bf16 ? encodeBf16Pairs(s32, words) : encodeF16Pairs(s32, words);
			if (n % 2 === 1) {
				const last = s32[n - 1]!;
				const h = bf16 ? bf16BitsOf(last) : f32BitsToF16Bits(last);
				new Uint16Array(aligned.buffer, aligned.byteOffset + 2 * (n - 1), 1)[0] = h;
				acc |= allOnesBit(h, bf16);
			}
		} else {
			const d16 = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
			for (let i = 0; i < n; i++) {
				const h = bf16 ? bf16BitsOf(s32[i]!) : f32BitsToF16Bits(s32[i]!);
				d16[i] = h;
				acc |= allOnesBit(h, bf16);
			}
		}
	}
	if (aligned !== out) {
		out.set(aligned);
	}
	return (acc & ALL_ONES_PAIR) === 0;
}

/*
 * The finiteness check. A 16-bit float is NaN or ±Inf exactly when its exponent bits are all ones. Shifted right by
 * one and masked, an exponent field plus one in its lowest bit carries into the bit above the field only when the
 * field is all ones: bit 14 for the low half of a pair word, bit 30 for the high half, never reaching the int32 sign
 * (so the JIT keeps it in 32-bit integer arithmetic). ORing that over every word and testing ALL_ONES_PAIR once at the
 * end detects any non-finite value without a branch in the loop.
 */
const ALL_ONES_PAIR = 0x40004000;
const BF16_EXP_PAIR = 0x3fc03fc0;
const BF16_EXP_ONE = 0x00400040;
const F16_EXP_PAIR = 0x3e003e00;
const F16_EXP_ONE = 0x02000200;

/** The check's bit for one 16-bit value h (bit 14 set when it is NaN or ±Inf). */
function allOnesBit(h: number, bf16: boolean): number {
	return bf16 ? ((h >>> 1) & 0x3fc0) + 0x40 : ((h >>> 1) & 0x3e00) + 0x200;
}

/**
 * Whether no value of `values` is NaN or ±Inf: a read-only pass (see encodeChecked for encoding and checking at once).
 * v·0 is ±0 for every finite v and NaN otherwise, so the sums stay 0 exactly when all are finite; four of them keep
 * the additions independent, and there is no branch.
 */
export function allFiniteF32(values: Float32Array): boolean {
	let a = 0;
	let b = 0;
	let c = 0;
	let d = 0;
	const n = values.length;
	let i = 0;
	for (; i + 4 <= n; i += 4) {
		a += values[i]! * 0;
		b += values[i + 1]! * 0;
		c += values[i + 2]! * 0;
		d += values[i + 3]! * 0;
	}
	for (; i < n; i++) a += values[i]! * 0;
	return a + b + c + d === 0;
}

/** Where encoding `values` as `dtype` first gives NaN or ±Inf (values that overflow the dtype included). */
export interface NonFiniteAt {
	/** Index within `values`. */
	index: number;
	/** The float32 value there: NaN, ±Infinity, or a finite value too large for the dtype. */
	value: number;
}

/** The first value of `values` whose `dtype` encoding is not finite, or undefined. One value at a time: for reports. */
export function firstNonFinite(values: Float32Array, dtype: FloatDtype): NonFiniteAt | undefined {
	for (let i = 0; i < values.length; i++) {
		const v = values[i]!;
		const h = dtype === "BF16" ? f32ToBf16Bits(v) : dtype === "F16" ? f32ToF16Bits(v) : 0;
		const bad = dtype === "BF16" ? (h & 0x7f80) === 0x7f80 : dtype === "F16" ? (h & 0x7c00) === 0x7c00 : !Number.isFinite(v);
		if (bad) return { index: i, value: v };
	}
	return undefined;
}

/**
 * The bf16 pattern of the float32 with bits `u`. Finite values and ±Inf: add just under half an ulp, plus one when
 * the kept lsb is odd (ties go to even; overflow carries into Inf). NaN: keep the sign and top payload bits and
 * force the quiet bit, so truncation cannot turn it into Inf. The sum never leaves the int32 range for non-NaN `u`.
 */
function bf16BitsOf(u: number): number {
	return (u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 0x0040 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

/**
 * bf16 encoding of pairs: float32 bits s32[2j], s32[2j + 1] → the low / high half of words[j] (little-endian
 * order). Pairs without a NaN (the common case: one cheap test each) are rounded inline. Returns the OR of the
 * finiteness check's bits over the words (see ALL_ONES_PAIR).
 */
function encodeBf16Pairs(s32: Int32Array, words: Int32Array): number {
	const m = words.length;
	let acc = 0;
	for (let j = 0, k = 0; j < m; j++, k += 2) {
		const u = s32[k]!;
		const v = s32[k + 1]!;
		let w: number;
		if ((u & 0x7fffffff) > 0x7f800000 || (v & 0x7fffffff) > 0x7f800000) {
			w = bf16BitsOf(u) | (bf16BitsOf(v) << 16);
		} else {
			w = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) | ((v + 0x7fff + ((v >>> 16) & 1)) & -0x10000);
		}
		words[j] = w;
		acc |= ((w >>> 1) & BF16_EXP_PAIR) + BF16_EXP_ONE;
	}
	return acc;
}

/**
 * f16 encoding of pairs, like encodeBf16Pairs. Inline fast path when both results are normal finite f16 numbers
 * (|x| in [2^-14, 65520)): rebias 127 → 15, then round away 13 mantissa bits; everything else (subnormal, zero,
 * overflow, Inf, NaN) goes through f32BitsToF16Bits. Returns the OR of the finiteness check's bits (ALL_ONES_PAIR).
 */
function encodeF16Pairs(s32: Int32Array, words: Int32Array): number {
	const m = words.length;
	let acc = 0;
	for (let j = 0, k = 0; j < m; j++, k += 2) {
		const u = s32[k]!;
		const v = s32[k + 1]!;
		const a = u & 0x7fffffff;
		const b = v & 0x7fffffff;
		let w: number;
		if (a >= 0x38800000 && a < 0x477ff000 && b >= 0x38800000 && b < 0x477ff000) {
			const x = a - 0x38000000;
			const y = b - 0x38000000;
			const lo = ((u >>> 16) & 0x8000) | ((x + 0x0fff + ((x >>> 13) & 1)) >>> 13);
			w = lo | (v & -0x80000000) | (((y + 0x0fff + ((y >>> 13) & 1)) >>> 13) << 16);
		} else {
			// Outside the inline range (subnormal, zero, overflow, Inf, NaN): the only place a non-finite result can arise.
			w = f32BitsToF16Bits(u) | (f32BitsToF16Bits(v) << 16);
			acc |= ((w >>> 1) & F16_EXP_PAIR) + F16_EXP_ONE;
		}
		words[j] = w;
	}
	return acc;
}

/** Bit pattern of an f16 as the f32 bit pattern of the same value (exact: every f16 is an f32). */
function f16BitsToF32Bits(h: number): number {
	const sign = (h & 0x8000) << 16;
	const exp = (h >>> 10) & 0x1f;
	let mant = h & 0x03ff;
	if (exp === 0x1f) {
		return (sign | 0x7f800000 | (mant << 13)) >>> 0; // Inf, or NaN with its payload (the quiet bit maps to f32's)
	}
	if (exp !== 0) {
		return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // rebias 15 → 127
	}
	if (mant === 0) {
		return sign >>> 0;
	}
	// Subnormal mant·2^-24: shift until the implicit bit appears, lowering the exponent each step.
	let e = 113;
	while ((mant & 0x0400) === 0) {
		mant <<= 1;
		e--;
	}
	return (sign | (e << 23) | ((mant & 0x03ff) << 13)) >>> 0;
}

/** f32 bit pattern → f16 bit pattern, round-to-nearest-even; NaN stays quiet NaN, overflow gives ±Inf. */
function f32BitsToF16Bits(u: number): number {
	const sign = (u >>> 16) & 0x8000;
	const a = u & 0x7fffffff;
	if (a > 0x7f800000) {
		return sign | 0x7e00 | ((a >>> 13) & 0x03ff); // NaN: quiet bit set, top payload bits kept
	}
	if (a >= 0x477ff000) {
		return sign | 0x7c00; // Inf, or |x| >= 65520 (halfway above the largest finite 65504; the tie goes to even = Inf)
	}
	if (a >= 0x38800000) {
		const x = a - 0x38000000; // rebias 127 → 15, then round away 13 mantissa bits
		return sign | ((x + 0x0fff + ((x >>> 13) & 1)) >>> 13);
	}
	// Subnormal (or zero) result: round (1.m)·2^(e-150) to a multiple of 2^-24, i.e. shift the
	// 24-bit significand right by 126 - e. Shifts above 24 leave less than half a unit: zero.
	const e = a >>> 23;
	const shift = 126 - e;
	if (e === 0 || shift > 24) {
		return sign;
	}
	const m = (a & 0x007fffff) | 0x00800000;
	const q = m >>> shift;
	const rem = m & ((1 << shift) - 1);
	const half = 1 << (shift - 1);
	const up = rem > half || (rem === half && (q & 1) === 1) ? 1 : 0;
	return sign | (q + up); // q + up may reach 0x400, which is exactly the smallest normal
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The bf16 bit pattern (0..65535) nearest to `x` after rounding it to float32. */
export function f32ToBf16Bits(x: number): number {
	scratchF32[0] = x;
	return bf16BitsOf(scratchU32[0]! | 0);
}

/** The value of a bf16 bit pattern (0..65535). */
export function bf16BitsToF32(b: number): number {
	scratchU32[0] = (b & 0xffff) << 16;
	return scratchF32[0]!;
}

/** The f16 bit pattern (0..65535) nearest to `x` after rounding it to float32. */
export function f32ToF16Bits(x: number): number {
	scratchF32[0] = x;
	return f32BitsToF16Bits(scratchU32[0]!);
}

/** The value of an f16 bit pattern (0..65535). */
export function f16BitsToF32(h: number): number {
	scratchU32[0] = f16BitsToF32Bits(h & 0xffff);
	return scratchF32[0]!;
}
