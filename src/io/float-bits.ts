/**
 * Bit-level conversions between float32 and the 16-bit float formats, one value at a time: the rounding every
 * array conversion (convert.ts, encode.ts) applies, round-to-nearest-even, NaN kept quiet with its sign, overflow to
 * ±Inf, subnormals both ways. The exported scalar helpers at the end (f32ToBf16Bits, …) are part of the public API.
 */
import { LmMergeError } from "../errors.js";

// Typed-array views use the host byte order; safetensors data is little-endian, so refuse to run elsewhere
// rather than silently byte-swap every weight.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
	throw new LmMergeError("lm-merge needs a little-endian host: safetensors data is little-endian and is read through typed-array views");
}

/**
 * The bf16 pattern of the float32 with bits `u`. Finite values and ±Inf: add just under half an ulp, plus one when
 * the kept lsb is odd (ties go to even; overflow carries into Inf). NaN: keep the sign and top payload bits and
 * force the quiet bit, so truncation cannot turn it into Inf. The sum never leaves the int32 range for non-NaN `u`.
 */
export function bf16BitsOf(u: number): number {
	return (u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 0x0040 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

/** Bit pattern of an f16 as the f32 bit pattern of the same value (exact: every f16 is an f32). */
export function f16BitsToF32Bits(h: number): number {
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
export function f32BitsToF16Bits(u: number): number {
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
