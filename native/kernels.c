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

/* addMerged of task-vector-combine.ts: b + (−0 − (0 − m)), which turns a −0 contribution into +0's sum. */
static inline f64 add_merged(f64 b, f64 m) {
	return b + (-0.0 - (0.0 - m));
}

/* 1 when v is NaN or ±Infinity (v − v ≠ 0), as the loops' `flag(m - m !== 0)`. */
static inline int not_finite(f64 v) {
	return !(v - v == 0.0);
}

/*
 * DARE with the L1 rescale, scan pass (dareBitsFast of task-vector-scan.ts) over n elements whose first one is at
 * bit 0 of words[0]: keep bits into words[0 .. ⌈n/32⌉), ‖δ‖₁ and ‖m⊙δ‖₁ added in index order to sums[0], sums[1].
 * Returns how many |δ| were not finite (the caller then redoes the block by the definition).
 */
EXPORT(dare_bits)
int dare_bits(const f32 *x, const f32 *b, int n, uint32_t *words, uint32_t c0, uint32_t k_lo, uint32_t k_hi, uint32_t hi_mix, uint32_t limit, f64 *sums) {
	f64 before = sums[0];
	f64 after = sums[1];
	int bad = 0;
	for (int w = 0; w * 32 < n; w++) {
		int end = n - w * 32 < 32 ? n - w * 32 : 32;
		const f32 *xw = x + w * 32;
		const f32 *bw = b + w * 32;
		uint32_t keep[32];
		f32 a[32];
		uint32_t base = c0 + (uint32_t)(w * 32);
		for (int j = 0; j < 32; j++) keep[j] = counter_hash(base + (uint32_t)j, k_lo, k_hi, hi_mix) < limit;
		for (int j = 0; j < end; j++) {
			f32 d = xw[j] - bw[j];
			a[j] = __builtin_fabsf(d);
		}
		uint32_t word = 0;
		for (int j = 0; j < end; j++) {
			f64 v = (f64)a[j];
			before += v;
			after += v * (f64)keep[j];
			bad += not_finite(v);
			word |= keep[j] << j;
		}
		words[w] = word;
	}
	sums[0] = before;
	sums[1] = after;
	return bad;
}

/* One model, keep bits (bitsOne of task-vector-loops.ts); element i's bit is bit i & 31 of words[i >> 5]. */
EXPORT(bits_one)
int bits_one(const f32 *x, const f32 *b, f32 *dst, int n, const uint32_t *words, f64 sv, f64 w, f64 r, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f64 bv = b[i];
		f64 d = (f32)(x[i] - b[i]);
		f64 k = (f64)((words[i >> 5] >> (i & 31)) & 1u);
		f64 m = add_merged(bv, (f64)(f32)(d * k * sv) * w * r * lambda);
		dst[i] = (f32)m;
		bad += not_finite(m);
	}
	return bad;
}

/* One model, DARE's inline draw with counters c0 + i (randomOne of task-vector-loops.ts). */
EXPORT(random_one)
int random_one(const f32 *x, const f32 *b, f32 *dst, int n, uint32_t c0, uint32_t k_lo, uint32_t k_hi, uint32_t hi_mix, uint32_t limit, f64 sv, f64 w, f64 r, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f64 bv = b[i];
		f64 d = (f32)(x[i] - b[i]);
		f64 k = (f64)(counter_hash(c0 + (uint32_t)i, k_lo, k_hi, hi_mix) < limit);
		f64 m = add_merged(bv, (f64)(f32)(d * k * sv) * w * r * lambda);
		dst[i] = (f32)m;
		bad += not_finite(m);
	}
	return bad;
}

/* One model, rank cuts with constant thresholds, × r then × λ (cutsOneMul of task-vector-loops.ts). */
EXPORT(cuts_one_mul)
int cuts_one_mul(const f32 *x, const f32 *b, f32 *dst, int n, f64 t_u, f64 t_l, f64 sv, f64 w, f64 r, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f64 bv = b[i];
		f64 d = (f32)(x[i] - b[i]);
		f64 a = __builtin_fabs(d);
		f64 k = (f64)((a > t_u) & (a <= t_l));
		f64 m = add_merged(bv, (f64)(f32)(d * k * sv) * w * r * lambda);
		dst[i] = (f32)m;
		bad += not_finite(m);
	}
	return bad;
}

/* As cuts_one_mul, dividing by D (cutsOneDiv of task-vector-loops.ts). */
EXPORT(cuts_one_div)
int cuts_one_div(const f32 *x, const f32 *b, f32 *dst, int n, f64 t_u, f64 t_l, f64 sv, f64 w, f64 D, f64 lambda) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f64 bv = b[i];
		f64 d = (f32)(x[i] - b[i]);
		f64 a = __builtin_fabs(d);
		f64 k = (f64)((a > t_u) & (a <= t_l));
		f64 m = add_merged(bv, (((f64)(f32)(d * k * sv) * w) / D) * lambda);
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

/*
 * float32 bits → bf16, round to nearest even (bf16BitsOf of src/io/convert.ts): add just under half an ulp plus
 * the kept lsb; a NaN keeps its sign and top payload bits with the quiet bit set.
 */
EXPORT(encode_bf16)
void encode_bf16(const uint32_t *src, uint16_t *dst, int n) {
	for (int i = 0; i < n; i++) {
		uint32_t u = src[i];
		uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
		uint32_t nan = (u >> 16) | 0x40u;
		dst[i] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
	}
}

/*
 * The "unit chain" forms: when w, r and λ are powers of two whose product is 1 (e.g. TIES with normalize and a
 * power-of-two weight), v·w·r·λ = v exactly for every float32 v, so the float64 chain of the loops above reduces
 * to m = b + (−0 − (0 − v)) with v = f32(δ·k·sv), which float32 arithmetic computes with the same single rounding
 * (a sum or product of two float32 values rounded from float64 to float32 equals the float32 operation). Without a
 * rescale (sv = 1), v = δ·k; with one, δ·k·sv is a float64 product rounded to float32, as in the loops above.
 */

/* Rank cuts, unit chain, no rescale: four float32 lanes throughout. */
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

/* Rank cuts, unit chain, rescale sv. */
EXPORT(cuts_one_unit_sv)
int cuts_one_unit_sv(const f32 *x, const f32 *b, f32 *dst, int n, f32 t_u, f32 t_l, f64 sv) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f32 bv = b[i];
		f32 d = x[i] - bv;
		f32 a = __builtin_fabsf(d);
		f32 k = (f32)((a > t_u) & (a <= t_l));
		f32 v = (f32)((f64)(d * k) * sv);
		f32 m = bv + (-0.0f - (0.0f - v));
		dst[i] = m;
		bad += !(m - m == 0.0f);
	}
	return bad;
}

/* Keep bits, unit chain, rescale sv (DARE with the L1 rescale and a unit chain). */
EXPORT(bits_one_unit_sv)
int bits_one_unit_sv(const f32 *x, const f32 *b, f32 *dst, int n, const uint32_t *words, f64 sv) {
	int bad = 0;
	for (int w = 0; w * 32 < n; w++) {
		uint32_t word = words[w];
		int end = n - w * 32 < 32 ? n - w * 32 : 32;
		const f32 *xw = x + w * 32;
		const f32 *bw = b + w * 32;
		f32 *dw = dst + w * 32;
		for (int j = 0; j < end; j++) {
			f32 bv = bw[j];
			f32 d = xw[j] - bv;
			f32 k = (f32)((word >> j) & 1u);
			f32 v = (f32)((f64)(d * k) * sv);
			f32 m = bv + (-0.0f - (0.0f - v));
			dw[j] = m;
			bad += !(m - m == 0.0f);
		}
	}
	return bad;
}

/* DARE's inline draw, unit chain, rescale sv. */
EXPORT(random_one_unit_sv)
int random_one_unit_sv(const f32 *x, const f32 *b, f32 *dst, int n, uint32_t c0, uint32_t k_lo, uint32_t k_hi, uint32_t hi_mix, uint32_t limit, f64 sv) {
	int bad = 0;
	for (int i = 0; i < n; i++) {
		f32 bv = b[i];
		f32 d = x[i] - bv;
		f32 k = (f32)(counter_hash(c0 + (uint32_t)i, k_lo, k_hi, hi_mix) < limit);
		f32 v = (f32)((f64)(d * k) * sv);
		f32 m = bv + (-0.0f - (0.0f - v));
		dst[i] = m;
		bad += !(m - m == 0.0f);
	}
	return bad;
}

/*
 * The bracket pass of a rank cut (RankBracket.scanOne / scanFour of task-vector-bracket.ts) over n elements:
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
 * Two models (emitTwo of task-vector-emit.ts): per sub-block, each model's contribution v = f32(δ·k·sv)·w is
 * filled into a float64 buffer (the fill_* twins of cutsValues, randomValues, bitsValues and allValues in
 * task-vector-loops.ts), then one mix loop elects signs and combines (mixTwo's four forms).
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
