/*
 * lm-merge's WebAssembly kernels: the hottest per-element loops of the task-vector kernel and the bf16
 * conversions, compiled with clang to wasm32 + SIMD128 (scripts/build-wasm.mjs). Each function computes exactly
 * what its TypeScript twin computes, element for element, in the same float32/float64 operations and order (no
 * fast-math, no FMA contraction), so both routes give the same bits; test/wasm/kernels.test.ts checks them
 * against each other. Arrays are byte offsets into the memory JavaScript provides (src/wasm/arena.ts).
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef float f32;
typedef double f64;

/* counterHash of src/tensor/rng.ts: 32-bit wrapping arithmetic, as Math.imul and `| 0` compute it. */
static inline uint32_t counter_hash(uint32_t index, uint32_t k_lo, uint32_t k_hi, uint32_t hi_mix) {
	uint32_t h = (index ^ k_lo) + hi_mix;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	h = h ^ k_hi ^ (index * 0x85ebca77u);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

/* addMerged of task-vector/combine.ts: b + (−0 − (0 − m)), which turns a −0 contribution into +0's sum. */
static inline f64 add_merged(f64 b, f64 m) {
	return b + (-0.0 - (0.0 - m));
}

/* 1 when v is NaN or ±Infinity (v − v ≠ 0), as the loops' `flag(m - m !== 0)`. */
static inline int not_finite(f64 v) {
	return !(v - v == 0.0);
}

/* counter_hash of four consecutive counters idx … idx + 3 (the lanes of `idx`). */
static inline v128_t counter_hash4(v128_t idx, v128_t k_lo, v128_t k_hi, v128_t hi_mix) {
	v128_t h = wasm_i32x4_add(wasm_v128_xor(idx, k_lo), hi_mix);
	h = wasm_v128_xor(h, wasm_u32x4_shr(h, 16));
	h = wasm_i32x4_mul(h, wasm_i32x4_splat((int32_t)0x85ebca6bu));
	h = wasm_v128_xor(h, wasm_u32x4_shr(h, 13));
	h = wasm_i32x4_mul(h, wasm_i32x4_splat((int32_t)0xc2b2ae35u));
	h = wasm_v128_xor(h, wasm_u32x4_shr(h, 16));
	h = wasm_v128_xor(wasm_v128_xor(h, k_hi), wasm_i32x4_mul(idx, wasm_i32x4_splat((int32_t)0x85ebca77u)));
	h = wasm_v128_xor(h, wasm_u32x4_shr(h, 16));
	h = wasm_i32x4_mul(h, wasm_i32x4_splat((int32_t)0x85ebca6bu));
	h = wasm_v128_xor(h, wasm_u32x4_shr(h, 13));
	h = wasm_i32x4_mul(h, wasm_i32x4_splat((int32_t)0xc2b2ae35u));
	return wasm_v128_xor(h, wasm_u32x4_shr(h, 16));
}

/*
 * DARE with the L1 rescale, scan pass (dareBitsFast of task-vector/scan.ts) over n elements whose first one is at
 * bit 0 of words[0]: keep bits into words[0 .. ⌈n/32⌉), ‖δ‖₁ and ‖m⊙δ‖₁ added in index order to sums[0], sums[1].
 * Returns a positive number when some |δ| was not finite (the caller then redoes the block by the definition, so
 * the sums may be anything then), else 0. Hashes, |δ| and keep masks in four lanes; the sums are added one element at a time, in order.
 */
EXPORT(dare_bits)
int dare_bits(const f32 *x, const f32 *b, int n, uint32_t *words, uint32_t c0, uint32_t k_lo, uint32_t k_hi, uint32_t hi_mix, uint32_t limit, f64 *sums) {
	f64 before = sums[0];
	f64 after = sums[1];
	v128_t vlo = wasm_i32x4_splat((int32_t)k_lo), vhi = wasm_i32x4_splat((int32_t)k_hi), vmix = wasm_i32x4_splat((int32_t)hi_mix);
	v128_t vlimit = wasm_i32x4_splat((int32_t)limit);
	v128_t zero = wasm_f32x4_splat(0.0f);
	v128_t bad = wasm_i32x4_splat(0);
	int i = 0;
	for (; i + 32 <= n; i += 32) {
		uint32_t word = 0;
		for (int q = 0; q < 32; q += 4) {
			v128_t idx = wasm_i32x4_add(wasm_i32x4_splat((int32_t)(c0 + (uint32_t)(i + q))), wasm_i32x4_make(0, 1, 2, 3));
			v128_t keep = wasm_u32x4_lt(counter_hash4(idx, vlo, vhi, vmix), vlimit);
			word |= (uint32_t)wasm_i32x4_bitmask(keep) << q;
			v128_t a = wasm_f32x4_abs(wasm_f32x4_sub(wasm_v128_load(x + i + q), wasm_v128_load(b + i + q)));
			bad = wasm_v128_or(bad, wasm_v128_not(wasm_f32x4_eq(wasm_f32x4_sub(a, a), zero)));
			v128_t kept = wasm_v128_and(a, keep);
			v128_t a01 = wasm_f64x2_promote_low_f32x4(a), a23 = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(a, a, 2, 3, 2, 3));
			v128_t k01 = wasm_f64x2_promote_low_f32x4(kept), k23 = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(kept, kept, 2, 3, 2, 3));
			before += wasm_f64x2_extract_lane(a01, 0);
			after += wasm_f64x2_extract_lane(k01, 0);
			before += wasm_f64x2_extract_lane(a01, 1);
			after += wasm_f64x2_extract_lane(k01, 1);
			before += wasm_f64x2_extract_lane(a23, 0);
			after += wasm_f64x2_extract_lane(k23, 0);
			before += wasm_f64x2_extract_lane(a23, 1);
			after += wasm_f64x2_extract_lane(k23, 1);
		}
		words[i >> 5] = word;
	}
	int tail_bad = 0;
	if (i < n) {
		uint32_t word = 0;
		for (int j = 0; i + j < n; j++) {
			uint32_t keep = counter_hash(c0 + (uint32_t)(i + j), k_lo, k_hi, hi_mix) < limit;
			f64 a = (f64)__builtin_fabsf(x[i + j] - b[i + j]);
			before += a;
			after += a * (f64)keep;
			tail_bad += not_finite(a);
			word |= keep << j;
		}
		words[i >> 5] = word;
	}
	sums[0] = before;
	sums[1] = after;
	return wasm_i32x4_bitmask(bad) != 0 ? 1 + tail_bad : tail_bad;
}

/*
 * The result of the one-model loops' float64 chain: m = b + (−0 − (0 − f32(δ·k·sv)·w·r·λ)), products left to right
 * as the TypeScript loops write them; returns f32(m) and adds 1 to *bad when m is not finite.
 */
static inline f32 chain_mul(f32 bv, f32 d, uint32_t k, f64 sv, f64 w, f64 r, f64 lambda, int *bad) {
	f64 v = (f32)((f64)d * (f64)k * sv);
	f64 m = add_merged(bv, v * w * r * lambda);
	*bad += not_finite(m);
	return (f32)m;
}

/* One model, keep bits (bitsOne of task-vector/loops.ts); element i's bit is bit i & 31 of words[i >> 5]. */
EXPORT(bits_one)
int bits_one(const f32 *x, const f32 *b, f32 *dst, int n, const uint32_t *words, f64 sv, f64 w, f64 r, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) dst[i] = chain_mul(b[i], x[i] - b[i], (words[i >> 5] >> (i & 31)) & 1u, sv, w, r, lambda, &bad);
	return bad;
}

/* One model, DARE's inline draw with counters c0 + i (randomOne of task-vector/loops.ts). */
EXPORT(random_one)
int random_one(const f32 *x, const f32 *b, f32 *dst, int n, uint32_t c0, uint32_t k_lo, uint32_t k_hi, uint32_t hi_mix, uint32_t limit, f64 sv, f64 w, f64 r, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) dst[i] = chain_mul(b[i], x[i] - b[i], counter_hash(c0 + (uint32_t)i, k_lo, k_hi, hi_mix) < limit, sv, w, r, lambda, &bad);
	return bad;
}

/* One model, rank cuts with constant thresholds, × r then × λ (cutsOneMul of task-vector/loops.ts). */
EXPORT(cuts_one_mul)
int cuts_one_mul(const f32 *x, const f32 *b, f32 *dst, int n, f64 t_u, f64 t_l, f64 sv, f64 w, f64 r, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f32 d = x[i] - b[i];
		f64 a = __builtin_fabs((f64)d);
		dst[i] = chain_mul(b[i], d, (a > t_u) & (a <= t_l), sv, w, r, lambda, &bad);
	}
	return bad;
}

/* As cuts_one_mul, dividing by D (cutsOneDiv of task-vector/loops.ts). */
EXPORT(cuts_one_div)
int cuts_one_div(const f32 *x, const f32 *b, f32 *dst, int n, f64 t_u, f64 t_l, f64 sv, f64 w, f64 D, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f32 d = x[i] - b[i];
		f64 a = __builtin_fabs((f64)d);
		f64 v = (f32)((f64)d * (f64)((a > t_u) & (a <= t_l)) * sv);
		f64 m = add_merged(b[i], ((v * w) / D) * lambda);
		dst[i] = (f32)m;
		bad += not_finite(m);
	}
	return bad;
}

/* bf16 → float32 bits (decodeToF32 of src/io/convert.ts): the 16 bits become the high half. */
EXPORT(decode_bf16)
void decode_bf16(const uint16_t *src, uint32_t *dst, int n) {
	for (int i = 0; i < n; i++) dst[i] = (uint32_t)src[i] << 16;
}

/* Four float32 bit patterns → their bf16 patterns in the low halves of the lanes (bf16BitsOf of src/io/convert.ts). */
static inline v128_t bf16x4(v128_t u) {
	v128_t rounded = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(u, wasm_i32x4_splat(0x7fff)), wasm_v128_and(wasm_u32x4_shr(u, 16), wasm_i32x4_splat(1))), 16);
	v128_t nan = wasm_v128_or(wasm_u32x4_shr(u, 16), wasm_i32x4_splat(0x40));
	v128_t is_nan = wasm_u32x4_gt(wasm_v128_and(u, wasm_i32x4_splat(0x7fffffff)), wasm_i32x4_splat(0x7f800000));
	return wasm_v128_bitselect(nan, rounded, is_nan);
}

/*
 * float32 bits → bf16, round to nearest even (bf16BitsOf of src/io/convert.ts): add just under half an ulp plus
 * the kept lsb; a NaN keeps its sign and top payload bits with the quiet bit set. Returns 1 when some result is NaN
 * or ±Inf (a finite input can round to Inf), else 0: encodeChecked's carry trick (see ALL_ONES_PAIR in convert.ts),
 * an OR per eight results with no branch. Eight values per step: two vectors narrowed into one full store.
 */
EXPORT(encode_bf16)
int encode_bf16(const uint32_t *src, uint16_t *dst, int n) {
	v128_t acc = wasm_i16x8_splat(0);
	int i = 0;
	for (; i + 8 <= n; i += 8) {
		v128_t lo = bf16x4(wasm_v128_load(src + i));
		v128_t hi = bf16x4(wasm_v128_load(src + i + 4));
		v128_t h = wasm_i8x16_shuffle(lo, hi, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
		wasm_v128_store(dst + i, h);
		acc = wasm_v128_or(acc, wasm_i16x8_add(wasm_v128_and(wasm_u16x8_shr(h, 1), wasm_i16x8_splat(0x3fc0)), wasm_i16x8_splat(0x40)));
	}
	uint32_t bad = (uint32_t)wasm_i16x8_bitmask(wasm_i16x8_shl(acc, 1));
	for (; i < n; i++) {
		uint32_t u = src[i];
		uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
		uint32_t nan = (u >> 16) | 0x40u;
		uint32_t h = (u & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
		dst[i] = (uint16_t)h;
		bad |= (((h >> 1) & 0x3fc0u) + 0x40u) & 0x4000u;
	}
	return bad != 0;
}

/* 1 when some float32 of src[0 .. n) is NaN or ±Inf (its exponent bits all ones), else 0: the same carry trick. */
EXPORT(any_nonfinite_f32)
int any_nonfinite_f32(const uint32_t *src, int n) {
	uint32_t acc = 0;
	for (int i = 0; i < n; i++) acc |= ((src[i] >> 1) & 0x3fc00000u) + 0x00400000u;
	return (acc & 0x40000000u) != 0;
}

/*
 * The "power-of-two chain" forms: when w, r and λ are powers of two of modest size, v·w·r·λ = v·c exactly (c their
 * product) for every float32 v, with no overflow or underflow in float64. So the float64 chain of the loops above
 * reduces to m = b + (−0 − (0 − v·c)) with v = f32(δ·k·sv), computed in float64 two lanes at a time and rounded
 * once to float32, as the loops above round it. With c = 1 and no rescale (sv = 1: v = δ·k, as with TIES and
 * normalize), m is a sum of two float32 values, which float32 arithmetic rounds exactly as float64 then float32
 * would: four float32 lanes throughout.
 */

/* Rank cuts, c = 1, no rescale. */
EXPORT(cuts_one_unit)
int cuts_one_unit(const f32 *x, const f32 *b, f32 *dst, int n, f32 t_u, f32 t_l) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f32 bv = b[i];
		f32 d = x[i] - bv;
		f32 a = __builtin_fabsf(d);
		f32 k = (f32)((a > t_u) & (a <= t_l));
		f32 m = bv + (-0.0f - (0.0f - d * k));
		dst[i] = m;
		bad += !(m - m == 0.0f);
	}
	return bad;
}

/* The four lanes of one half (lanes 0–1 or 2–3) as float64: m = b + (−0 − (0 − f32(f64(δ·k)·sv)·c)). */
static inline v128_t pow2_half(v128_t bv, v128_t dk, v128_t vsv, v128_t vc) {
	v128_t v = wasm_f64x2_promote_low_f32x4(wasm_f32x4_demote_f64x2_zero(wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(dk), vsv)));
	v128_t t = wasm_f64x2_mul(v, vc);
	return wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(bv), wasm_f64x2_sub(wasm_f64x2_splat(-0.0), wasm_f64x2_sub(wasm_f64x2_splat(0.0), t)));
}

/* Four results of a power-of-two chain, k a lane mask; *bad counts, per lane, the float64 m that are not finite. */
static inline v128_t pow2_result4(v128_t bv, v128_t d, v128_t keep, v128_t vsv, v128_t vc, v128_t *bad) {
	v128_t dk = wasm_f32x4_mul(d, wasm_v128_and(wasm_f32x4_splat(1.0f), keep));
	v128_t lo = pow2_half(bv, dk, vsv, vc);
	v128_t hi = pow2_half(wasm_i32x4_shuffle(bv, bv, 2, 3, 2, 3), wasm_i32x4_shuffle(dk, dk, 2, 3, 2, 3), vsv, vc);
	v128_t finite_lo = wasm_f64x2_eq(wasm_f64x2_sub(lo, lo), wasm_f64x2_splat(0.0));
	v128_t finite_hi = wasm_f64x2_eq(wasm_f64x2_sub(hi, hi), wasm_f64x2_splat(0.0));
	*bad = wasm_i32x4_sub(*bad, wasm_v128_not(wasm_i32x4_shuffle(finite_lo, finite_hi, 0, 2, 4, 6)));
	return wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/* One scalar result of a power-of-two chain (the loops' tails); adds 1 to *bad when m is not finite. */
static inline f32 pow2_result(f32 bv, f32 d, uint32_t k, f64 sv, f64 c, int *bad) {
	f64 v = (f32)((f64)(d * (f32)k) * sv);
	f64 m = add_merged(bv, v * c);
	*bad += not_finite(m);
	return (f32)m;
}

/* The sum of a vector's four int32 lanes (per-lane counts). */
static inline int lanes_total(v128_t counts) {
	int32_t c[4];
	wasm_v128_store(c, counts);
	return c[0] + c[1] + c[2] + c[3];
}

/* Rank cuts, power-of-two chain c, rescale sv. */
EXPORT(cuts_one_pow2)
int cuts_one_pow2(const f32 *x, const f32 *b, f32 *dst, int n, f32 t_u, f32 t_l, f64 sv, f64 c) {
	v128_t vsv = wasm_f64x2_splat(sv), vc = wasm_f64x2_splat(c);
	v128_t vu = wasm_f32x4_splat(t_u), vl = wasm_f32x4_splat(t_l);
	v128_t bad = wasm_i32x4_splat(0);
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		v128_t bv = wasm_v128_load(b + i);
		v128_t d = wasm_f32x4_sub(wasm_v128_load(x + i), bv);
		v128_t a = wasm_f32x4_abs(d);
		v128_t keep = wasm_v128_and(wasm_f32x4_gt(a, vu), wasm_f32x4_le(a, vl));
		wasm_v128_store(dst + i, pow2_result4(bv, d, keep, vsv, vc, &bad));
	}
	int total = lanes_total(bad);
	for (; i < n; i++) {
		f32 d = x[i] - b[i];
		f32 a = __builtin_fabsf(d);
		dst[i] = pow2_result(b[i], d, (a > t_u) & (a <= t_l), sv, c, &total);
	}
	return total;
}

/* DARE's inline draw, power-of-two chain c, rescale sv. */
EXPORT(random_one_pow2)
int random_one_pow2(const f32 *x, const f32 *b, f32 *dst, int n, uint32_t c0, uint32_t k_lo, uint32_t k_hi, uint32_t hi_mix, uint32_t limit, f64 sv, f64 c) {
	v128_t vsv = wasm_f64x2_splat(sv), vc = wasm_f64x2_splat(c);
	v128_t vlo = wasm_i32x4_splat((int32_t)k_lo), vhi = wasm_i32x4_splat((int32_t)k_hi), vmix = wasm_i32x4_splat((int32_t)hi_mix);
	v128_t vlimit = wasm_i32x4_splat((int32_t)limit);
	v128_t bad = wasm_i32x4_splat(0);
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		v128_t idx = wasm_i32x4_add(wasm_i32x4_splat((int32_t)(c0 + (uint32_t)i)), wasm_i32x4_make(0, 1, 2, 3));
		v128_t keep = wasm_u32x4_lt(counter_hash4(idx, vlo, vhi, vmix), vlimit);
		v128_t bv = wasm_v128_load(b + i);
		wasm_v128_store(dst + i, pow2_result4(bv, wasm_f32x4_sub(wasm_v128_load(x + i), bv), keep, vsv, vc, &bad));
	}
	int total = lanes_total(bad);
	for (; i < n; i++) {
		uint32_t k = counter_hash(c0 + (uint32_t)i, k_lo, k_hi, hi_mix) < limit;
		dst[i] = pow2_result(b[i], x[i] - b[i], k, sv, c, &total);
	}
	return total;
}

/* Keep bits (element i's is bit i & 31 of words[i >> 5]), power-of-two chain c, rescale sv. */
EXPORT(bits_one_pow2)
int bits_one_pow2(const f32 *x, const f32 *b, f32 *dst, int n, const uint32_t *words, f64 sv, f64 c) {
	v128_t vsv = wasm_f64x2_splat(sv), vc = wasm_f64x2_splat(c);
	v128_t lanes = wasm_i32x4_make(1, 2, 4, 8);
	v128_t bad = wasm_i32x4_splat(0);
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		uint32_t nibble = (words[i >> 5] >> (i & 31)) & 15u;
		v128_t keep = wasm_i32x4_ne(wasm_v128_and(wasm_i32x4_splat((int32_t)nibble), lanes), wasm_i32x4_splat(0));
		v128_t bv = wasm_v128_load(b + i);
		wasm_v128_store(dst + i, pow2_result4(bv, wasm_f32x4_sub(wasm_v128_load(x + i), bv), keep, vsv, vc, &bad));
	}
	int total = lanes_total(bad);
	for (; i < n; i++) dst[i] = pow2_result(b[i], x[i] - b[i], (words[i >> 5] >> (i & 31)) & 1u, sv, c, &total);
	return total;
}

/*
 * The bracket pass of a rank cut (RankBracket.scanOne / scanFour of task-vector/bracket.ts) over n elements:
 * counts[0] += how many |δ| lie above hi (NaN included), counts[1 + i] += how many equal the listed value v_i
 * (NaN for an unused slot: nothing equals it), and every |δ| in [lo, hi] equal to no listed value is written to
 * gathered[], in index order. Returns how many were gathered. Four float32 lanes; gathering (rare) is scalar.
 */
EXPORT(bracket_scan)
int bracket_scan(const f32 *x, const f32 *b, int n, f32 lo, f32 hi, f32 v0, f32 v1, f32 v2, f32 v3, f32 *gathered, int32_t *counts) {
	v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
	v128_t l0 = wasm_f32x4_splat(v0), l1 = wasm_f32x4_splat(v1), l2 = wasm_f32x4_splat(v2), l3 = wasm_f32x4_splat(v3);
	v128_t above = wasm_i32x4_splat(0), c0 = above, c1 = above, c2 = above, c3 = above;
	int got = 0;
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		v128_t a = wasm_f32x4_abs(wasm_f32x4_sub(wasm_v128_load(x + i), wasm_v128_load(b + i)));
		v128_t under = wasm_f32x4_le(a, vhi);
		v128_t e0 = wasm_f32x4_eq(a, l0), e1 = wasm_f32x4_eq(a, l1), e2 = wasm_f32x4_eq(a, l2), e3 = wasm_f32x4_eq(a, l3);
		/* Masks are −1 per true lane: subtracting them counts. */
		above = wasm_i32x4_sub(above, wasm_v128_not(under));
		c0 = wasm_i32x4_sub(c0, e0);
		c1 = wasm_i32x4_sub(c1, e1);
		c2 = wasm_i32x4_sub(c2, e2);
		c3 = wasm_i32x4_sub(c3, e3);
		v128_t listed = wasm_v128_or(wasm_v128_or(e0, e1), wasm_v128_or(e2, e3));
		v128_t take = wasm_v128_andnot(wasm_v128_and(wasm_f32x4_ge(a, vlo), under), listed);
		if (wasm_v128_any_true(take)) {
			f32 lanes[4];
			int32_t mask[4];
			wasm_v128_store(lanes, a);
			wasm_v128_store(mask, take);
			for (int j = 0; j < 4; j++) if (mask[j]) gathered[got++] = lanes[j];
		}
	}
	int32_t tail[5] = {0, 0, 0, 0, 0};
	for (; i < n; i++) {
		f32 a = __builtin_fabsf(x[i] - b[i]);
		int under = a <= hi;
		int e0 = a == v0, e1 = a == v1, e2 = a == v2, e3 = a == v3;
		tail[0] += !under;
		tail[1] += e0;
		tail[2] += e1;
		tail[3] += e2;
		tail[4] += e3;
		if ((a >= lo) & under & !(e0 | e1 | e2 | e3)) gathered[got++] = a;
	}
	v128_t sums[5] = {above, c0, c1, c2, c3};
	for (int k = 0; k < 5; k++) {
		int32_t lanes[4];
		wasm_v128_store(lanes, sums[k]);
		counts[k] += lanes[0] + lanes[1] + lanes[2] + lanes[3] + tail[k];
	}
	return got;
}

/*
 * Two models (emitTwo of task-vector/emit.ts): per sub-block, each model's contribution v = f32(δ·k·sv)·w is
 * filled into a float64 buffer (the fill_* twins of cutsValues, randomValues, bitsValues and allValues in
 * task-vector/loops.ts), then one mix loop elects signs and combines (mixTwo's four forms).
 */

EXPORT(fill_cuts)
void fill_cuts(const f32 *x, const f32 *b, int n, f64 t_u, f64 t_l, f64 sv, f64 w, f64 *out) {
	for (int i = 0; i < n; i++) {
		f64 d = (f32)(x[i] - b[i]);
		f64 a = __builtin_fabs(d);
		f64 k = (f64)((a > t_u) & (a <= t_l));
		out[i] = (f64)(f32)(d * k * sv) * w;
	}
}

EXPORT(fill_random)
void fill_random(const f32 *x, const f32 *b, int n, uint32_t c0, uint32_t k_lo, uint32_t k_hi, uint32_t hi_mix, uint32_t limit, f64 sv, f64 w, f64 *out) {
	for (int i = 0; i < n; i++) {
		f64 k = (f64)(counter_hash(c0 + (uint32_t)i, k_lo, k_hi, hi_mix) < limit);
		out[i] = (f64)(f32)((f64)(f32)(x[i] - b[i]) * k * sv) * w;
	}
}

/* Element i's keep bit is bit i & 31 of words[i >> 5]. */
EXPORT(fill_bits)
void fill_bits(const f32 *x, const f32 *b, int n, const uint32_t *words, f64 sv, f64 w, f64 *out) {
	for (int i = 0; i < n; i++) {
		f64 k = (f64)((words[i >> 5] >> (i & 31)) & 1u);
		out[i] = (f64)(f32)((f64)(f32)(x[i] - b[i]) * k * sv) * w;
	}
}

EXPORT(fill_all)
void fill_all(const f32 *x, const f32 *b, int n, f64 w, f64 *out) {
	for (int i = 0; i < n; i++) out[i] = (f64)(f32)(x[i] - b[i]) * w;
}

/* With consensus: the agreeing models (a = 1) are those whose contribution has the sign of the total. */
static inline int agree(f64 v, f64 sign) {
	return v * sign > 0;
}

EXPORT(mix_elect_mul)
int mix_elect_mul(const f32 *b, f32 *dst, int n, const f64 *v0s, const f64 *v1s, const f64 *t, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f64 v0 = v0s[i], v1 = v1s[i];
		f64 sign = (f64)(2 * (v0 + v1 >= 0) - 1);
		int a0 = agree(v0, sign), a1 = agree(v1, sign);
		f64 m = add_merged(b[i], (v0 * (f64)a0 + v1 * (f64)a1) * t[a0 | (a1 << 1)] * lambda);
		dst[i] = (f32)m;
		bad += not_finite(m);
	}
	return bad;
}

EXPORT(mix_elect_div)
int mix_elect_div(const f32 *b, f32 *dst, int n, const f64 *v0s, const f64 *v1s, const f64 *t, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f64 v0 = v0s[i], v1 = v1s[i];
		f64 sign = (f64)(2 * (v0 + v1 >= 0) - 1);
		int a0 = agree(v0, sign), a1 = agree(v1, sign);
		f64 m = add_merged(b[i], ((v0 * (f64)a0 + v1 * (f64)a1) / t[a0 | (a1 << 1)]) * lambda);
		dst[i] = (f32)m;
		bad += not_finite(m);
	}
	return bad;
}

EXPORT(mix_sum_mul)
int mix_sum_mul(const f32 *b, f32 *dst, int n, const f64 *v0s, const f64 *v1s, f64 t, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f64 m = add_merged(b[i], (v0s[i] + v1s[i]) * t * lambda);
		dst[i] = (f32)m;
		bad += not_finite(m);
	}
	return bad;
}

EXPORT(mix_sum_div)
int mix_sum_div(const f32 *b, f32 *dst, int n, const f64 *v0s, const f64 *v1s, f64 t, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f64 m = add_merged(b[i], ((v0s[i] + v1s[i]) / t) * lambda);
		dst[i] = (f32)m;
		bad += not_finite(m);
	}
	return bad;
}

/*
 * SLERP (slerpSums and blendInto of src/methods/slerp.ts). The sums keep four float64 lanes per quantity (element
 * i in lane i mod 4, in index order) as the TypeScript loop does, here as two float64x2 vectors per quantity:
 * sums[q·4 + l] for q = 0: a·a, 1: b·b, 2: a·b. n must be a multiple of 4 and the first element in lane 0.
 */
EXPORT(slerp_sums)
void slerp_sums(const f32 *a, const f32 *b, int n, f64 *sums) {
	v128_t aa01 = wasm_v128_load(sums), aa23 = wasm_v128_load(sums + 2);
	v128_t bb01 = wasm_v128_load(sums + 4), bb23 = wasm_v128_load(sums + 6);
	v128_t ab01 = wasm_v128_load(sums + 8), ab23 = wasm_v128_load(sums + 10);
	for (int i = 0; i + 4 <= n; i += 4) {
		v128_t x = wasm_v128_load(a + i), y = wasm_v128_load(b + i);
		v128_t x01 = wasm_f64x2_promote_low_f32x4(x), x23 = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(x, x, 2, 3, 2, 3));
		v128_t y01 = wasm_f64x2_promote_low_f32x4(y), y23 = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(y, y, 2, 3, 2, 3));
		aa01 = wasm_f64x2_add(aa01, wasm_f64x2_mul(x01, x01));
		aa23 = wasm_f64x2_add(aa23, wasm_f64x2_mul(x23, x23));
		bb01 = wasm_f64x2_add(bb01, wasm_f64x2_mul(y01, y01));
		bb23 = wasm_f64x2_add(bb23, wasm_f64x2_mul(y23, y23));
		ab01 = wasm_f64x2_add(ab01, wasm_f64x2_mul(x01, y01));
		ab23 = wasm_f64x2_add(ab23, wasm_f64x2_mul(x23, y23));
	}
	wasm_v128_store(sums, aa01);
	wasm_v128_store(sums + 2, aa23);
	wasm_v128_store(sums + 4, bb01);
	wasm_v128_store(sums + 6, bb23);
	wasm_v128_store(sums + 8, ab01);
	wasm_v128_store(sums + 10, ab23);
}

/* out[i] = f32(ca·a[i] + cb·b[i]) computed in float64 (out may be a). */
EXPORT(slerp_blend)
void slerp_blend(f32 *out, const f32 *a, const f32 *b, int n, f64 ca, f64 cb) {
	for (int i = 0; i < n; i++) out[i] = (f32)(ca * (f64)a[i] + cb * (f64)b[i]);
}
