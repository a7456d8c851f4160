/*
 * The GGUF export's encoders (src/gguf: encodeFromF32's F16, encodeQ8_0, encodeQ4_0, encodeQ4_K, encodeQ5_K,
 * encodeQ6_K), compiled into the same WebAssembly module as kernels.c by scripts/build-wasm.mjs. The TypeScript
 * encoders are the oracle: every function here performs the same float64 operations in the same order (JavaScript
 * numbers are float64; the Float32Array stores of the TypeScript become float casts here; Math.round is js_round),
 * so the bytes are identical; test/gguf/wasm-quant.test.ts checks them on many random and adversarial blocks.
 *
 * Where SIMD is used, the two float64 lanes hold two independent computations (two candidate scales of a search),
 * each lane running its sums in the TypeScript's order: no sum is ever split across lanes, so no rounding changes.
 *
 * Domain: every value finite with magnitude below QUANT_LIMIT. Outside it (NaN, ±Inf, absurdly large weights) the
 * encoders write nothing useful and return 1; the caller then encodes the range with the TypeScript encoder, whose
 * handling of such values (NaN payloads included) is then the file's by definition.
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef float f32;
typedef double f64;

/*
 * Largest magnitude the compiled encoders accept (2^16): squares stay far from float32 overflow and every scale
 * stays a finite f16, so no infinity or NaN can arise inside them. Real weights are below 10^3.
 */
#define QUANT_LIMIT 65536.0f

/* 1 when any of the n values is NaN, infinite or at least QUANT_LIMIT in magnitude (n a multiple of 4). */
static int out_of_domain(const f32 *x, int n) {
	v128_t limit = wasm_f32x4_splat(QUANT_LIMIT);
	v128_t ok = wasm_i32x4_splat(-1);
	for (int i = 0; i < n; i += 4) ok = wasm_v128_and(ok, wasm_f32x4_lt(wasm_f32x4_abs(wasm_v128_load(x + i)), limit));
	return !wasm_i32x4_all_true(ok);
}

static inline uint32_t bits_of(f32 x) {
	return __builtin_bit_cast(uint32_t, x);
}

/* f32BitsToF16Bits of src/io/convert.ts: round to nearest even; NaN stays a quiet NaN; overflow gives ±Inf. */
static inline uint32_t f16_bits_of(uint32_t u) {
	uint32_t sign = (u >> 16) & 0x8000u;
	uint32_t a = u & 0x7fffffffu;
	if (a > 0x7f800000u) return sign | 0x7e00u | ((a >> 13) & 0x03ffu);
	if (a >= 0x477ff000u) return sign | 0x7c00u;
	if (a >= 0x38800000u) {
		uint32_t x = a - 0x38000000u;
		return sign | ((x + 0x0fffu + ((x >> 13) & 1u)) >> 13);
	}
	uint32_t e = a >> 23;
	int shift = 126 - (int)e;
	if (e == 0 || shift > 24) return sign;
	uint32_t m = (a & 0x007fffffu) | 0x00800000u;
	uint32_t q = m >> shift;
	uint32_t rem = m & ((1u << shift) - 1u);
	uint32_t half = 1u << (shift - 1);
	return sign | (q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u));
}

/* f32ToF16Bits of src/io/convert.ts: the float64 x rounded to float32, then to f16. */
static inline uint32_t f16_of(f64 x) {
	return f16_bits_of(bits_of((f32)x));
}

/* f16BitsToF32 of src/io/convert.ts: the value of an f16 pattern (exact in float32). */
static inline f32 f16_value(uint32_t h) {
	uint32_t sign = (h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x03ffu;
	uint32_t u;
	if (exp == 0x1f) u = sign | 0x7f800000u | (mant << 13);
	else if (exp != 0) u = sign | ((exp + 112) << 23) | (mant << 13);
	else if (mant == 0) u = sign;
	else {
		uint32_t e = 113;
		while ((mant & 0x0400u) == 0) {
			mant <<= 1;
			e--;
		}
		u = sign | (e << 23) | ((mant & 0x03ffu) << 13);
	}
	return __builtin_bit_cast(f32, u);
}

/*
 * Math.round: the integer nearest to y, ties toward +∞. y − floor(y) is exact for every float64 (Sterbenz; for
 * y in (−1, 0) the sum y + 1 rounds only when it cannot change the comparison), so the test is exact.
 */
static inline f64 js_round(f64 y) {
	f64 f = __builtin_floor(y);
	return y - f >= 0.5 ? f + 1.0 : f;
}

/* js_round on two lanes. */
static inline v128_t js_round2(v128_t y) {
	v128_t f = wasm_f64x2_floor(y);
	v128_t up = wasm_f64x2_ge(wasm_f64x2_sub(y, f), wasm_f64x2_splat(0.5));
	return wasm_f64x2_add(f, wasm_v128_and(up, wasm_f64x2_splat(1.0)));
}

static inline void put_f16(uint8_t *out, uint32_t bits) {
	out[0] = (uint8_t)bits;
	out[1] = (uint8_t)(bits >> 8);
}

/* ---------------------------------------------------------------------------------------------------------- F16 */

/*
 * float32 → f16 (encodeFromF32(…, "F16")), eight values per step. Normal results: rebias and round away 13 bits as
 * integers; subnormal results: |x|·2^24 rounded to an integer by adding 2^23 in float32 (round to nearest even,
 * exactly f32BitsToF16Bits's rounding, since |x|·2^24 < 2^10 is exact); overflow → Inf; NaN → quiet NaN.
 */
static inline v128_t f16_lanes(v128_t u) {
	v128_t a = wasm_v128_and(u, wasm_i32x4_splat(0x7fffffff));
	v128_t sign = wasm_v128_and(wasm_u32x4_shr(u, 16), wasm_i32x4_splat(0x8000));
	v128_t x = wasm_i32x4_sub(a, wasm_i32x4_splat(0x38000000));
	v128_t normal = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(x, wasm_i32x4_splat(0x0fff)), wasm_v128_and(wasm_u32x4_shr(x, 13), wasm_i32x4_splat(1))), 13);
	v128_t magic = wasm_f32x4_splat(8388608.0f);
	v128_t scaled = wasm_f32x4_add(wasm_f32x4_mul(a, wasm_f32x4_splat(16777216.0f)), magic);
	v128_t sub = wasm_i32x4_sub(scaled, magic);
	v128_t nan = wasm_v128_or(wasm_i32x4_splat(0x7e00), wasm_v128_and(wasm_u32x4_shr(a, 13), wasm_i32x4_splat(0x03ff)));
	v128_t r = wasm_v128_bitselect(normal, sub, wasm_u32x4_ge(a, wasm_i32x4_splat(0x38800000)));
	r = wasm_v128_bitselect(wasm_i32x4_splat(0x7c00), r, wasm_u32x4_ge(a, wasm_i32x4_splat(0x477ff000)));
	r = wasm_v128_bitselect(nan, r, wasm_u32x4_gt(a, wasm_i32x4_splat(0x7f800000)));
	return wasm_v128_or(r, sign);
}

EXPORT(encode_f16)
void encode_f16(const uint32_t *src, uint16_t *dst, int n) {
	int i = 0;
	for (; i + 8 <= n; i += 8) {
		v128_t lo = f16_lanes(wasm_v128_load(src + i));
		v128_t hi = f16_lanes(wasm_v128_load(src + i + 4));
		wasm_v128_store(dst + i, wasm_u16x8_narrow_i32x4(lo, hi));
	}
	for (; i < n; i++) dst[i] = (uint16_t)f16_bits_of(src[i]);
}

/* --------------------------------------------------------------------------------------------------------- Q8_0 */

/* encodeQ8_0: per block of 32, d = f16(amax / 127), q = Math.round(x / d) clamped to ±127. */
EXPORT(encode_q8_0)
int encode_q8_0(const f32 *src, uint8_t *out, int blocks) {
	if (out_of_domain(src, 32 * blocks)) return 1;
	v128_t top = wasm_f64x2_splat(127.0), bottom = wasm_f64x2_splat(-127.0);
	for (int b = 0; b < blocks; b++, src += 32, out += 34) {
		v128_t m = wasm_f32x4_splat(0.0f);
		for (int i = 0; i < 32; i += 4) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(src + i)));
		f32 amax = 0.0f;
		for (int l = 0; l < 4; l++) {
			f32 v = wasm_f32x4_extract_lane(m, 0);
			amax = v > amax ? v : amax;
			m = wasm_i32x4_shuffle(m, m, 1, 2, 3, 0);
		}
		uint32_t dbits = f16_of((f64)amax / 127.0);
		f64 d = f16_value(dbits);
		v128_t id = wasm_f64x2_splat(d > 0 ? 1.0 / d : 0.0);
		put_f16(out, dbits);
		v128_t q[8];
		for (int i = 0; i < 32; i += 4) {
			v128_t x = wasm_v128_load(src + i);
			v128_t lo = wasm_f64x2_promote_low_f32x4(x);
			v128_t hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(x, x, 2, 3, 2, 3));
			lo = wasm_f64x2_pmax(wasm_f64x2_pmin(js_round2(wasm_f64x2_mul(lo, id)), top), bottom);
			hi = wasm_f64x2_pmax(wasm_f64x2_pmin(js_round2(wasm_f64x2_mul(hi, id)), top), bottom);
			q[i >> 2] = wasm_i32x4_shuffle(wasm_i32x4_trunc_sat_f64x2_zero(lo), wasm_i32x4_trunc_sat_f64x2_zero(hi), 0, 1, 4, 5);
		}
		v128_t a = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(q[0], q[1]), wasm_i16x8_narrow_i32x4(q[2], q[3]));
		v128_t c = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(q[4], q[5]), wasm_i16x8_narrow_i32x4(q[6], q[7]));
		wasm_v128_store(out + 2, a);
		wasm_v128_store(out + 18, c);
	}
	return 0;
}

/* --------------------------------------------------------------------------------------------------------- Q4_0 */

/* roundBlock of q4-0.ts: integers in [0, 2·half) against scale d into q; returns the squared error (in order). */
static f64 round_block(const f32 *x, int half, f64 d, uint8_t *q) {
	f64 id = 1.0 / d;
	f64 top = 2 * half - 1;
	f64 err = 0;
	for (int i = 0; i < 32; i++) {
		f64 v = x[i];
		f64 l = __builtin_floor(v * id + 0.5) + half;
		l = l < 0 ? 0 : l > top ? top : l;
		/* A Uint8Array store: NaN (0·∞ when d underflowed to 0) becomes 0. */
		q[i] = l == l ? (uint8_t)(int)l : 0;
		f64 e = v - d * (l - half);
		err += e * e;
	}
	return err;
}

/* symmetricBlock of q4-0.ts: returns the f16 scale bits, the integers in q. */
static uint32_t symmetric_block(const f32 *x, int half, uint8_t *q, uint8_t *spare) {
	f32 max = 0, amax = 0;
	for (int i = 0; i < 32; i++) {
		f32 a = __builtin_fabsf(x[i]);
		if (a > amax) {
			amax = a;
			max = x[i];
		}
	}
	if (max == 0) {
		for (int i = 0; i < 32; i++) q[i] = (uint8_t)half;
		return 0;
	}
	uint32_t bits = f16_of((f64)max / (f64)-half);
	f64 err = round_block(x, half, f16_value(bits), q);
	f64 sxl = 0, sll = 0;
	for (int i = 0; i < 32; i++) {
		int l = q[i] - half;
		sxl += (f64)x[i] * l;
		sll += l * l;
	}
	if (sll == 0) return bits;
	uint32_t refit = f16_of(sxl / sll);
	f64 d = f16_value(refit);
	if (d == 0 || round_block(x, half, d, spare) >= err) return bits;
	for (int i = 0; i < 32; i++) q[i] = spare[i];
	return refit;
}

EXPORT(encode_q4_0)
int encode_q4_0(const f32 *src, uint8_t *out, int blocks) {
	if (out_of_domain(src, 32 * blocks)) return 1;
	uint8_t q[32], spare[32];
	for (int b = 0; b < blocks; b++, src += 32, out += 18) {
		put_f16(out, symmetric_block(src, 8, q, spare));
		for (int j = 0; j < 16; j++) out[2 + j] = (uint8_t)(q[j] | (q[j + 16] << 4));
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------------ k-quant search */

/* Candidates of k-scale.ts (CANDIDATES = 21, SPREAD = 1): inverse scale c is (nmax − 1 + 2c/20) per unit of range. */
#define CANDIDATES 21
/* Candidate slots, in groups of GROUP pairs of float64 lanes (the last slots beyond CANDIDATES are computed, unused). */
#define GROUP 4
#define SLOTS 24

static inline f64 candidate_step(int nmax, int c) {
	return (f64)(nmax - 1) + (f64)(2 * c) / 20.0;
}

/*
 * The per-candidate sums of searchAffine for one sub-block of n values: for every candidate iscale[c],
 * l = min(nmax, floor(iscale·dv + 0.5)), s1 = Σ w·l, s2 = Σ (w·l)·l, s3 = Σ wv·l, each summed in index order in
 * its own lane (dv = v − lo, wv = w·v, precomputed in float64 exactly as the TypeScript computes them inline).
 */
static void affine_sums(const f64 *dv, const f64 *w, const f64 *wv, int n, const f64 *iscale, f64 nmax, f64 *s1, f64 *s2, f64 *s3) {
	v128_t vn = wasm_f64x2_splat(nmax), half = wasm_f64x2_splat(0.5);
	for (int g = 0; g < SLOTS; g += 2 * GROUP) {
		v128_t is[GROUP], a1[GROUP], a2[GROUP], a3[GROUP];
		for (int p = 0; p < GROUP; p++) {
			is[p] = wasm_v128_load(iscale + g + 2 * p);
			a1[p] = a2[p] = a3[p] = wasm_f64x2_splat(0.0);
		}
		for (int i = 0; i < n; i++) {
			v128_t vd = wasm_v128_load64_splat(dv + i), vw = wasm_v128_load64_splat(w + i), vwv = wasm_v128_load64_splat(wv + i);
			for (int p = 0; p < GROUP; p++) {
				/* pmin(nmax, t) is t < nmax ? t : nmax, the TypeScript's "if (l > nmax) l = nmax" for every non-NaN t. */
				v128_t l = wasm_f64x2_pmin(vn, wasm_f64x2_floor(wasm_f64x2_add(wasm_f64x2_mul(is[p], vd), half)));
				v128_t wl = wasm_f64x2_mul(vw, l);
				a1[p] = wasm_f64x2_add(a1[p], wl);
				a2[p] = wasm_f64x2_add(a2[p], wasm_f64x2_mul(wl, l));
				a3[p] = wasm_f64x2_add(a3[p], wasm_f64x2_mul(vwv, l));
			}
		}
		for (int p = 0; p < GROUP; p++) {
			wasm_v128_store(s1 + g + 2 * p, a1[p]);
			wasm_v128_store(s2 + g + 2 * p, a2[p]);
			wasm_v128_store(s3 + g + 2 * p, a3[p]);
		}
	}
}

/* searchAffine of k-scale.ts: value ≈ scale·L − min, L in [0, nmax]; writes the fit to *scale, *min. */
static void search_affine(const f32 *x, int n, int nmax, const f32 *w, f64 *scale, f64 *min) {
	f64 lo = x[0], hi = lo, sw = 0, swx = 0;
	for (int i = 0; i < n; i++) {
		f64 v = x[i];
		if (v < lo) lo = v;
		if (v > hi) hi = v;
		sw += w[i];
		swx += w[i] * v;
	}
	if (lo > 0) lo = 0;
	if (hi == lo) {
		*scale = 0;
		*min = -lo;
		return;
	}
	f64 swx2 = 0;
	for (int i = 0; i < n; i++) swx2 += (f64)w[i] * x[i] * x[i];
	f64 dv[32], wd[32], wv[32];
	for (int i = 0; i < n; i++) {
		dv[i] = (f64)x[i] - lo;
		wd[i] = w[i];
		wv[i] = (f64)w[i] * x[i];
	}
	f64 range = hi - lo;
	f64 iscale[SLOTS], s1[SLOTS], s2[SLOTS], s3[SLOTS];
	for (int c = 0; c < SLOTS; c++) iscale[c] = candidate_step(nmax, c < CANDIDATES ? c : CANDIDATES - 1) / range;
	affine_sums(dv, wd, wv, n, iscale, nmax, s1, s2, s3);
	f64 best_err = __builtin_inf(), best_scale = (hi - lo) / nmax, best_min = -lo;
	for (int c = 0; c < CANDIDATES; c++) {
		f64 swl = s1[c], swl2 = s2[c], swxl = s3[c];
		f64 det = sw * swl2 - swl * swl;
		f64 a = 0, b = 0;
		if (det > 0) {
			a = (sw * swxl - swl * swx) / det;
			b = (swl2 * swx - swl * swxl) / det;
		}
		if (b > 0 || det <= 0) {
			b = 0;
			a = swl2 > 0 ? swxl / swl2 : 0;
		}
		if (a <= 0) continue;
		f64 err = a * a * swl2 + 2 * a * b * swl + b * b * sw - 2 * a * swxl - 2 * b * swx + swx2;
		if (err < best_err) {
			best_err = err;
			best_scale = a;
			best_min = -b;
		}
	}
	*scale = best_scale;
	*min = best_min;
}

/* The per-candidate sums of searchSymmetric: l = clamp(floor(iscale·v + 0.5), −nmax, nmax − 1), wl = w·l, sxl = Σ wl·v, sll = Σ wl·l. */
static void symmetric_sums(const f64 *v, const f64 *w, int n, const f64 *iscale, f64 nmax, f64 *sxl, f64 *sll) {
	v128_t lo = wasm_f64x2_splat(-nmax), hi = wasm_f64x2_splat(nmax - 1), half = wasm_f64x2_splat(0.5);
	for (int g = 0; g < SLOTS; g += 2 * GROUP) {
		v128_t is[GROUP], a1[GROUP], a2[GROUP];
		for (int p = 0; p < GROUP; p++) {
			is[p] = wasm_v128_load(iscale + g + 2 * p);
			a1[p] = a2[p] = wasm_f64x2_splat(0.0);
		}
		for (int i = 0; i < n; i++) {
			v128_t vv = wasm_v128_load64_splat(v + i), vw = wasm_v128_load64_splat(w + i);
			for (int p = 0; p < GROUP; p++) {
				v128_t t = wasm_f64x2_floor(wasm_f64x2_add(wasm_f64x2_mul(is[p], vv), half));
				/* l < −nmax ? −nmax : l > top ? top : l, for non-NaN l. */
				v128_t l = wasm_f64x2_pmin(hi, wasm_f64x2_pmax(lo, t));
				v128_t wl = wasm_f64x2_mul(vw, l);
				a1[p] = wasm_f64x2_add(a1[p], wasm_f64x2_mul(wl, vv));
				a2[p] = wasm_f64x2_add(a2[p], wasm_f64x2_mul(wl, l));
			}
		}
		for (int p = 0; p < GROUP; p++) {
			wasm_v128_store(sxl + g + 2 * p, a1[p]);
			wasm_v128_store(sll + g + 2 * p, a2[p]);
		}
	}
}

/* searchSymmetric of k-scale.ts: value ≈ scale·L, L in [−nmax, nmax − 1]; returns the scale (the min is 0). */
static f64 search_symmetric(const f32 *x, int n, int nmax, const f32 *w) {
	f32 max = 0, amax = 0;
	for (int i = 0; i < n; i++) {
		f32 a = __builtin_fabsf(x[i]);
		if (a > amax) {
			amax = a;
			max = x[i];
		}
	}
	if (max == 0) return 0;
	f64 v[16], wd[16];
	for (int i = 0; i < n; i++) {
		v[i] = x[i];
		wd[i] = w[i];
	}
	f64 iscale[SLOTS], sxl[SLOTS], sll[SLOTS];
	for (int c = 0; c < SLOTS; c++) iscale[c] = -candidate_step(nmax, c < CANDIDATES ? c : CANDIDATES - 1) / max;
	symmetric_sums(v, wd, n, iscale, nmax, sxl, sll);
	f64 best = -1, best_scale = (f64)max / -nmax;
	for (int c = 0; c < CANDIDATES; c++) {
		if (sll[c] > 0 && (sxl[c] * sxl[c]) / sll[c] > best) {
			best = (sxl[c] * sxl[c]) / sll[c];
			best_scale = sxl[c] / sll[c];
		}
	}
	return best_scale;
}

/* meanSquare of k-quants.ts: Σx² / 256 in index order. */
static f64 mean_square(const f32 *x) {
	f64 s = 0;
	for (int i = 0; i < 256; i++) s += (f64)x[i] * x[i];
	return s / 256;
}

/* ------------------------------------------------------------------------------------------------- Q4_K, Q5_K */

/* packScaleMins of k-quants.ts. */
static void pack_scale_mins(const uint8_t *sc, const uint8_t *m, uint8_t *out) {
	for (int j = 0; j < 4; j++) {
		out[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
		out[4 + j] = (uint8_t)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
		out[8 + j] = (uint8_t)((sc[j + 4] & 0xf) | ((m[j + 4] & 0xf) << 4));
	}
}

/* affineSuperBlock of k-quants.ts: d, dmin and the packed scales into out; the integers (0..nmax) into q. */
static void affine_super_block(const f32 *x, int nmax, uint8_t *out, uint8_t *q) {
	f64 sigma2 = mean_square(x);
	f32 scales[8], mins[8], w[32];
	for (int s = 0; s < 8; s++) {
		const f32 *at = x + 32 * s;
		for (int i = 0; i < 32; i++) w[i] = (f32)((f64)at[i] * at[i] + sigma2);
		f64 scale, min;
		search_affine(at, 32, nmax, w, &scale, &min);
		scales[s] = (f32)scale;
		mins[s] = (f32)min;
	}
	f64 max_scale = 0, max_min = 0;
	for (int s = 0; s < 8; s++) {
		if (scales[s] > max_scale) max_scale = scales[s];
		if (mins[s] > max_min) max_min = mins[s];
	}
	uint32_t dbits = f16_of(max_scale / 63), mbits = f16_of(max_min / 63);
	f64 d = f16_value(dbits), dmin = f16_value(mbits);
	uint8_t ls[8], lm[8];
	for (int s = 0; s < 8; s++) {
		f64 a = js_round(scales[s] / d), b = js_round(mins[s] / dmin);
		ls[s] = d > 0 ? (uint8_t)(a < 63 ? a : 63) : 0;
		lm[s] = dmin > 0 ? (uint8_t)(b < 63 ? b : 63) : 0;
	}
	put_f16(out, dbits);
	put_f16(out + 2, mbits);
	pack_scale_mins(ls, lm, out + 4);
	for (int s = 0; s < 8; s++) {
		f64 step = d * ls[s], min = dmin * lm[s];
		f64 inv = step > 0 ? 1 / step : 0;
		for (int i = 0; i < 32; i++) {
			f64 l = js_round((x[32 * s + i] + min) * inv);
			q[32 * s + i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
		}
	}
}

EXPORT(encode_q4_k)
int encode_q4_k(const f32 *src, uint8_t *out, int blocks) {
	if (out_of_domain(src, 256 * blocks)) return 1;
	uint8_t q[256];
	for (int b = 0; b < blocks; b++, src += 256, out += 144) {
		affine_super_block(src, 15, out, q);
		for (int g = 0; g < 4; g++) {
			for (int l = 0; l < 32; l++) out[16 + 32 * g + l] = (uint8_t)(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
		}
	}
	return 0;
}

EXPORT(encode_q5_k)
int encode_q5_k(const f32 *src, uint8_t *out, int blocks) {
	if (out_of_domain(src, 256 * blocks)) return 1;
	uint8_t q[256];
	for (int b = 0; b < blocks; b++, src += 256, out += 176) {
		affine_super_block(src, 31, out, q);
		for (int l = 0; l < 32; l++) out[16 + l] = 0;
		for (int g = 0; g < 4; g++) {
			for (int l = 0; l < 32; l++) {
				int lo = q[64 * g + l], hi = q[64 * g + 32 + l];
				out[48 + 32 * g + l] = (uint8_t)((lo & 0xf) | ((hi & 0xf) << 4));
				out[16 + l] = (uint8_t)(out[16 + l] | ((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
			}
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------------------------- Q6_K */

EXPORT(encode_q6_k)
int encode_q6_k(const f32 *src, uint8_t *out, int blocks) {
	if (out_of_domain(src, 256 * blocks)) return 1;
	uint8_t q[256];
	f32 w[16], scales[16];
	for (int b = 0; b < blocks; b++, src += 256, out += 210) {
		f64 sigma2 = mean_square(src);
		f64 max_abs = 0, max_scale = 0;
		for (int s = 0; s < 16; s++) {
			const f32 *at = src + 16 * s;
			for (int i = 0; i < 16; i++) w[i] = (f32)((f64)at[i] * at[i] + sigma2);
			f64 scale = search_symmetric(at, 16, 32, w);
			scales[s] = (f32)scale;
			if (__builtin_fabs(scale) > max_abs) {
				max_abs = __builtin_fabs(scale);
				max_scale = scale;
			}
		}
		uint32_t dbits = f16_of(max_scale / -128);
		f64 d = f16_value(dbits);
		f64 inv = d != 0 ? 1 / d : 0;
		for (int s = 0; s < 16; s++) {
			f64 r = js_round(scales[s] * inv);
			int ls = (int)(r > 127 ? 127 : r < -128 ? -128 : r);
			out[192 + s] = (uint8_t)(int8_t)ls;
			f64 step = d * ls;
			f64 is = step != 0 ? 1 / step : 0;
			for (int i = 0; i < 16; i++) {
				f64 l = js_round(src[16 * s + i] * is);
				q[16 * s + i] = (uint8_t)((int)(l < -32 ? -32 : l > 31 ? 31 : l) + 32);
			}
		}
		put_f16(out + 208, dbits);
		for (int h = 0; h < 2; h++) {
			for (int l = 0; l < 32; l++) {
				int base = 128 * h + l;
				int q1 = q[base], q2 = q[base + 32], q3 = q[base + 64], q4 = q[base + 96];
				out[64 * h + l] = (uint8_t)((q1 & 0xf) | ((q3 & 0xf) << 4));
				out[64 * h + l + 32] = (uint8_t)((q2 & 0xf) | ((q4 & 0xf) << 4));
				out[128 + 32 * h + l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
			}
		}
	}
	return 0;
}
