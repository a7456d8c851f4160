/**
 * float32 → safetensors bytes (F64, F32, F16, BF16), with a check folded into the loops of whether every encoded value
 * is finite (issue 12: a merge must not write NaN or ±Inf it produced). The loops work on Int32 views, two output
 * values per 32-bit store; rounding is that of float-bits.ts.
 */
import { dtypeBytes, type FloatDtype } from "./dtypes.js";
import { bf16BitsOf, f32BitsToF16Bits, f32ToBf16Bits, f32ToF16Bits } from "./float-bits.js";

/**
 * Encodes float32 values as little-endian `dtype` bytes (round-to-nearest-even for F16 / BF16).
 * With `out` (exactly src.length × element size bytes, any byteOffset) the bytes are written there.
 */
export function encodeFromF32(src: Float32Array, dtype: FloatDtype, out?: Uint8Array): Uint8Array {
	const dst = out ?? new Uint8Array(src.length * dtypeBytes(dtype));
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
	const size = dtypeBytes(dtype);
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
