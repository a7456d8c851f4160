/*
 * lm-merge's WebAssembly kernels: the hottest per-element loops of the task-vector kernel and the bf16
 * conversions, compiled with clang to wasm32 + SIMD128 (scripts/build-wasm.mjs). Each function computes exactly
 * what its TypeScript twin computes, element for element, in the same float32/float64 operations and order (no
 * fast-math, no FMA contraction), so both routes give the same bits; test/wasm/kernels.test.ts checks them
 * against each other. Arrays are byte offsets into the memory JavaScript provides (src/wasm/arena.ts).
 */
#include <stdint.h>

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
