/**
 * The WebAssembly kernels against their TypeScript twins, bit for bit: the bf16 conversions over every pattern,
 * and the one-model loops over values chosen to hit every rounding corner (subnormals, overflow to ±∞, NaN, ±0,
 * ties at the thresholds). Also checks that the shipped binary was built from the current native/kernels.c.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { allFiniteF32, decodeToF32, encodeChecked, encodeFromF32 } from "../../src/io/convert.js";
import type { Lane, Mixer } from "../../src/methods/task-vector/lanes.js";
import {
	allValues,
	bitsOne,
	bitsValues,
	cutsOneDiv,
	cutsOneMul,
	cutsValues,
	mixTwo,
	randomOne,
	randomValues,
} from "../../src/methods/task-vector/loops.js";
import { mixTwoWasm, pow2Chain } from "../../src/methods/task-vector/wasm.js";
import { counterHash } from "../../src/tensor/rng.js";
import { ARENA_BLOCK, ARENA_HEAP_BYTES, ARENA_INPUTS, wasmArena } from "../../src/wasm/kernels.js";
import { KERNELS_SOURCE_SHA256 } from "../../src/wasm/kernels-binary.js";

const arena = wasmArena()!;
const bits32 = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
/**
 * The loops' results as compared: finite values by their bits, a non-finite one as "redo" (the caller recomputes
 * every non-finite result by the definition, so only its being non-finite matters, not its NaN sign).
 */
const results = (a: Float32Array) => bits32(a).map((u, i) => (Number.isFinite(a[i]!) ? u : "redo"));

test("the binary is built from the current native/kernels.c (run scripts/build-wasm.mjs after editing it)", () => {
	const source = readFileSync(new URL("../../native/kernels.c", import.meta.url));
	expect(createHash("sha256").update(source).digest("hex")).toBe(KERNELS_SOURCE_SHA256);
});

test("the arena loads (WebAssembly SIMD is available on the Node versions the package supports)", () => {
	expect(arena).toBeDefined();
	expect(arena.slots).toHaveLength(ARENA_INPUTS + 1);
	expect(arena.slots[0]!.length).toBe(ARENA_BLOCK);
});

describe("bf16 conversions", () => {
	test("decode: all 65 536 patterns as decodeToF32", () => {
		const raw = new Uint8Array(new Uint16Array(65536).map((_, i) => i).buffer);
		const js = decodeToF32(raw, "BF16", new Float32Array(65536));
		const out = arena.slots[1]!;
		arena.decodeBf16(raw.subarray(0, 2 * ARENA_BLOCK), out.subarray(0, ARENA_BLOCK));
		expect(bits32(out)).toEqual(bits32(js.subarray(0, ARENA_BLOCK)));
		arena.decodeBf16(raw.subarray(2 * ARENA_BLOCK - 6, 2 * ARENA_BLOCK), out.subarray(3, 6));
		expect(bits32(out.subarray(3, 6))).toEqual(bits32(js.subarray(ARENA_BLOCK - 3)));
	});

	test("encode: float32 patterns around every rounding case as encodeFromF32, into any byte offset", () => {
		const src = arena.slots[0]!;
		const u = new Uint32Array(src.buffer, src.byteOffset, ARENA_BLOCK);
		// Every bf16 value ± the halfway point, ±1 ulp of float32, and NaN payloads that would truncate to ±∞.
		for (let i = 0; i < ARENA_BLOCK; i++) {
			const hi = (i * 0x9e37) & 0xffff;
			const lows = [0x0000, 0x7fff, 0x8000, 0x8001, 0xffff, 0x0001, 0x7ffe, 0xc000];
			u[i] = ((hi << 16) | lows[i % lows.length]!) >>> 0;
		}
		u[0] = 0x7f800001; // a signalling NaN with only low payload bits
		u[1] = 0xff800001;
		u[2] = 0x7f7fffff; // rounds to +∞
		for (const [from, to, offset] of [
			[0, ARENA_BLOCK, 0],
			[5, 1000, 1],
			[0, 1, 3],
		] as const) {
			const values = src.subarray(from, to);
			const js = encodeFromF32(values, "BF16");
			const into = new Uint8Array(2 * values.length + offset).subarray(offset);
			arena.encodeBf16(values, into);
			expect(Array.from(into)).toEqual(Array.from(js));
		}
	});

	test("encode reports non-finite results as encodeChecked does, and allFiniteF32 agrees with the TypeScript check", () => {
		const src = arena.slots[0]!.subarray(0, 1000);
		const into = new Uint8Array(2000);
		for (const [bad, at] of [
			[NaN, 0],
			[Infinity, 999],
			[-Infinity, 500],
			[3.4e38, 17],
			[undefined, 0],
		] as const) {
			src.fill(0.5);
			for (let i = 0; i < src.length; i += 7) src[i] = -1e30;
			if (bad !== undefined) src[at] = bad;
			const expected = encodeChecked(src, "BF16", new Uint8Array(2000));
			expect(expected).toBe(bad === undefined);
			expect(arena.encodeBf16(src, into)).toBe(expected);
			expect(arena.encodeBf16(src, new Uint8Array(arena.buffer, arena.slots[1]!.byteOffset, 2000))).toBe(expected);
			expect(arena.allFiniteF32(src)).toBe(bad === undefined || Number.isFinite(bad));
			expect(arena.allFiniteF32(src)).toBe(allFiniteF32(src));
		}
	});

	test("in place: bytes in the arena's heap decode and encode there, at even and odd offsets, as elsewhere", () => {
		const raw = new Uint8Array(new Uint16Array(65536).map((_, i) => (i * 40503) & 0xffff).buffer);
		const js = decodeToF32(raw, "BF16", new Float32Array(65536));
		const heap = arena.allocate(2 * ARENA_BLOCK + 8)!;
		try {
			for (const skew of [0, 2, 1]) {
				const bytes = heap.subarray(skew, skew + 2 * ARENA_BLOCK - 8);
				bytes.set(raw.subarray(0, bytes.length));
				const out = arena.slots[2]!.subarray(0, bytes.length / 2);
				arena.decodeBf16(bytes, out);
				expect(bits32(out)).toEqual(bits32(js.subarray(0, out.length)));
				// Encode back into the heap: the same bf16 bytes (decoding is exact, so encoding restores them).
				bytes.fill(0);
				arena.encodeBf16(out, bytes);
				expect(Array.from(bytes)).toEqual(Array.from(encodeFromF32(js.subarray(0, out.length), "BF16")));
			}
		} finally {
			arena.release(heap);
		}
	});
});

describe("the arena's heap", () => {
	test("page-aligned blocks; a released block is reused for a request up to its size, not for one twice smaller", () => {
		const a = arena.allocate(10_000)!;
		const b = arena.allocate(5_000)!;
		expect(a.byteLength).toBe(10_000);
		expect(a.byteOffset % 4096).toBe(0);
		expect(b.byteOffset % 4096).toBe(0);
		expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + 12_288);
		arena.release(a);
		const small = arena.allocate(3_000)!;
		expect(small.byteOffset).not.toBe(a.byteOffset);
		const c = arena.allocate(12_000)!;
		expect(c.byteOffset).toBe(a.byteOffset);
		for (const x of [b, small, c]) arena.release(x);
	});

	test("a request larger than the heap is refused (undefined), not grown", () => {
		expect(arena.allocate(ARENA_HEAP_BYTES + 4096)).toBeUndefined();
	});
});

/** Values for x and b: bf16-like weights plus every awkward float32. */
function nastyInputs(n: number, seed: number): { x: Float32Array; b: Float32Array } {
	let s = seed;
	const rand = () => {
		s = counterHash(s + 1, 7, 9, 11) >>> 0;
		return s / 2 ** 32;
	};
	const special = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1.1754942e-38, 3.4e38, -3.4e38, 1, 0.5];
	const x = new Float32Array(n);
	const b = new Float32Array(n);
	for (let i = 0; i < n; i++) {
		b[i] = (rand() - 0.5) * 0.1;
		const r = rand();
		if (r < 0.05) x[i] = special[Math.floor(rand() * special.length)]!;
		else if (r < 0.1) b[i] = special[Math.floor(rand() * special.length)]!;
		else if (r < 0.2) x[i] = b[i]!;
		else if (r < 0.25) x[i] = b[i]! + (rand() < 0.5 ? 0.0078125 : -0.0078125);
		else x[i] = b[i]! + (rand() - 0.5) * 0.02;
	}
	return { x, b };
}

/** x, b and dst in the arena; their TypeScript twins' arrays outside it. */
function placed(n: number, seed: number) {
	const { x, b } = nastyInputs(n, seed);
	const ax = arena.slots[1]!.subarray(0, n);
	const ab = arena.slots[0]!.subarray(0, n);
	ax.set(x);
	ab.set(b);
	return { x, b, ax, ab, dst: arena.slots[ARENA_INPUTS]!.subarray(0, n), js: new Float32Array(n) };
}

const ptr = (a: Float32Array) => a.byteOffset;
/** Factors for the f64 chain: exact, inexact, huge (overflow), tiny (underflow), negative. */
const FACTORS: [sv: number, w: number, r: number, lambda: number][] = [
	[1, 1, 1, 1],
	[1, 0.5, 2, 1],
	[1.7320508, 0.3, 1 / 0.3, 0.6],
	[1e30, 1e10, 3, 1],
	[1e-30, 1e-10, 1 / 3, 1.3],
	[2.5, -0.7, 1.1, -2],
];
const SIZES = [1, 7, 31, 32, 33, 1000, ARENA_BLOCK];

/** Power-of-two chains (w, r, λ powers of two) with every kind of rescale factor. */
const POW2_FACTORS: [sv: number, w: number, r: number, lambda: number][] = [
	[1, 1, 1, 1],
	[1, 0.5, 2, 1],
	[1, 0.5, 1, 1],
	[1, -0.25, -4, 1],
	[1, 4, 0.125, 2],
	[1.7320508, 0.5, 2, 1],
	[1.7320508, 0.5, 1, 0.25],
	[1e30, 0.5, 2, 1],
	[1e-30, 2, 1, 0.5],
	[0.3, -1, -1, 1],
	[3.1, 2 ** -60, 2 ** -60, 2 ** -60],
];

/**
 * The compiled loop's output and count against the TypeScript loop's: the same results (finite bits equal, the
 * same positions non-finite), and a positive count wherever a result is non-finite (the caller then recomputes
 * those). The float32 form may count more (a float64 sum that rounds to ±∞ in float32 is recomputed too).
 */
function sameResults(dst: Float32Array, js: Float32Array, bad: number, badJs: number): void {
	expect(results(dst)).toEqual(results(js));
	expect(bad).toBeGreaterThanOrEqual(badJs);
	if (results(dst).includes("redo")) expect(bad).toBeGreaterThan(0);
}

describe("power-of-two-chain loops as the TypeScript loops", () => {
	test.each(POW2_FACTORS)("cuts_one_unit / cuts_one_pow2, sv=%d w=%d r=%d λ=%d", (sv, w, r, lambda) => {
		const c = pow2Chain(w, r, lambda)!;
		expect(c).toBe(w * r * lambda);
		for (const [i, n] of SIZES.entries()) {
			const { x, b, ax, ab, dst, js } = placed(n, 400 + i);
			for (const [tU, tL] of [
				[0.003, Infinity],
				[-Infinity, 0.004],
				[0.0078125, 0.0078125],
				[0.002, 0.009],
				[-1, Infinity],
			] as const) {
				const badJs = cutsOneMul(x, b, js, 0, 0, n, tU, tL, sv, w, r, lambda);
				sameResults(dst, js, arena.k.cuts_one_pow2(ptr(ax), ptr(ab), ptr(dst), n, tU, tL, sv, c), badJs);
				if (sv === 1 && c === 1) sameResults(dst, js, arena.k.cuts_one_unit(ptr(ax), ptr(ab), ptr(dst), n, tU, tL), badJs);
			}
		}
	});

	test.each(POW2_FACTORS)("random_one_pow2 and bits_one_pow2, sv=%d w=%d r=%d λ=%d", (sv, w, r, lambda) => {
		const c = pow2Chain(w, r, lambda)!;
		for (const [i, n] of SIZES.entries()) {
			const { x, b, ax, ab, dst, js } = placed(n, 500 + i);
			const [kLo, kHi, limit, c0] = [3, 4, 0x80000000, 77];
			const hiMix = Math.imul(kHi, 0x9e3779b1);
			const bits = new Int32Array(Math.ceil(n / 32)).map((_, j) => counterHash(j, kLo, 5, hiMix));
			const lane = { keyLo: kLo, keyHi: kHi, keyHiMix: hiMix, keepLimit: limit, scaleValue: sv, weight: w, bits } as unknown as Lane;
			const badRandom = randomOne(x, b, js, 0, 0, n, lane, c0, r, lambda);
			sameResults(dst, js, arena.k.random_one_pow2(ptr(ax), ptr(ab), ptr(dst), n, c0, kLo, kHi, hiMix, limit, sv, c), badRandom);
			const badBits = bitsOne(x, b, js, 0, 0, n, lane, 0, r, lambda);
			arena.words.set(bits);
			sameResults(dst, js, arena.k.bits_one_pow2(ptr(ax), ptr(ab), ptr(dst), n, arena.words.byteOffset, sv, c), badBits);
		}
	});

	test("pow2Chain: only small powers of two", () => {
		expect(pow2Chain(0.5, 2, 1)).toBe(1);
		expect(pow2Chain(0.5, 1, 1)).toBe(0.5);
		expect(pow2Chain(-4, 0.5, 2)).toBe(-4);
		expect(pow2Chain(0.3, 1 / 0.3, 1)).toBeUndefined();
		expect(pow2Chain(2 ** 70, 2 ** -70, 1)).toBeUndefined();
		expect(pow2Chain(0, Infinity, 1)).toBeUndefined();
		// Next to a power of two: log2 of these rounds to an integer, their bits do not.
		expect(pow2Chain(256 * (1 + 2 ** -52), 1, 1)).toBeUndefined();
		expect(pow2Chain(1, 2 ** 40 * (1 - 2 ** -53), 1)).toBeUndefined();
		expect(pow2Chain(1, 1, 5e-324)).toBeUndefined();
	});
});

describe("one-model loops as their TypeScript twins", () => {
	test.each(FACTORS)("cuts_one_mul / cuts_one_div, sv=%d w=%d r=%d λ=%d", (sv, w, r, lambda) => {
		for (const [i, n] of SIZES.entries()) {
			const { x, b, ax, ab, dst, js } = placed(n, 100 + i);
			for (const [tU, tL] of [
				[0.003, Infinity],
				[-Infinity, 0.004],
				[0.0078125, 0.0078125],
				[0.002, 0.009],
				[-1, Infinity],
			] as const) {
				const badJs = cutsOneMul(x, b, js, 0, 0, n, tU, tL, sv, w, r, lambda);
				expect(arena.k.cuts_one_mul(ptr(ax), ptr(ab), ptr(dst), n, tU, tL, sv, w, r, lambda)).toBe(badJs);
				expect(results(dst)).toEqual(results(js));
				const badDiv = cutsOneDiv(x, b, js, 0, 0, n, tU, tL, sv, w, 1 / r, lambda);
				expect(arena.k.cuts_one_div(ptr(ax), ptr(ab), ptr(dst), n, tU, tL, sv, w, 1 / r, lambda)).toBe(badDiv);
				expect(results(dst)).toEqual(results(js));
			}
		}
	});

	test.each(FACTORS)("random_one and bits_one, sv=%d w=%d r=%d λ=%d", (sv, w, r, lambda) => {
		for (const [i, n] of SIZES.entries()) {
			const { x, b, ax, ab, dst, js } = placed(n, 200 + i);
			for (const [kLo, kHi, limit, c0] of [
				[1, 2, 2 ** 31, 0],
				[-5, 0x7fffffff, 0xffffffff, 2 ** 32 - n - 3],
				[99, -1, 1, 12345],
				[7, 8, 0, 5],
			] as const) {
				const hiMix = Math.imul(kHi, 0x9e3779b1);
				const bits = new Int32Array(Math.ceil(n / 32)).map((_, j) => counterHash(j, kLo, 3, hiMix));
				const lane = { keyLo: kLo, keyHi: kHi, keyHiMix: hiMix, keepLimit: limit, scaleValue: sv, weight: w, bits } as unknown as Lane;
				const badRandom = randomOne(x, b, js, 0, 0, n, lane, c0, r, lambda);
				expect(arena.k.random_one(ptr(ax), ptr(ab), ptr(dst), n, c0, kLo, kHi, hiMix, limit, sv, w, r, lambda)).toBe(badRandom);
				expect(results(dst)).toEqual(results(js));
				const badBits = bitsOne(x, b, js, 0, 0, n, lane, 0, r, lambda);
				arena.words.set(bits);
				expect(arena.k.bits_one(ptr(ax), ptr(ab), ptr(dst), n, arena.words.byteOffset, sv, w, r, lambda)).toBe(badBits);
				expect(results(dst)).toEqual(results(js));
			}
		}
	});

	test("dare_bits: keep bits and both L1 sums (in index order) as the definition", () => {
		for (const [i, n] of SIZES.entries()) {
			const { x, b, ax, ab } = placed(n, 300 + i);
			// Finite inputs only (a non-finite |δ| makes the caller redo the block): clamp the specials.
			for (let j = 0; j < n; j++) {
				if (!Number.isFinite(Math.fround(ax[j]! - ab[j]!))) ax[j] = ab[j] = 0.25;
				x[j] = ax[j]!;
				b[j] = ab[j]!;
			}
			const [kLo, kHi, limit, c0] = [11, -3, 0x9999999a, 4000];
			const hiMix = Math.imul(kHi, 0x9e3779b1);
			arena.sums[0] = 0.25;
			arena.sums[1] = 0.125;
			expect(arena.k.dare_bits(ptr(ax), ptr(ab), n, arena.words.byteOffset, c0, kLo, kHi, hiMix, limit, arena.sums.byteOffset)).toBe(0);
			let before = 0.25;
			let after = 0.125;
			const words = new Uint32Array(Math.ceil(n / 32));
			for (let j = 0; j < n; j++) {
				const a = Math.abs(Math.fround(x[j]! - b[j]!));
				const keep = counterHash(j + c0, kLo, kHi, hiMix) >>> 0 < limit;
				before += a;
				if (keep) after += a;
				if (keep) words[j >>> 5] = (words[j >>> 5]! | (1 << (j & 31))) >>> 0;
			}
			expect(Array.from(arena.words.subarray(0, words.length))).toEqual(Array.from(words));
			expect([arena.sums[0], arena.sums[1]]).toEqual([before, after]);
		}
	});

	test("dare_bits reports the non-finite |δ| it met", () => {
		const ax = arena.slots[1]!;
		const ab = arena.slots[0]!;
		ax.fill(1, 0, 64);
		ab.fill(0.5, 0, 64);
		ax[40] = Infinity;
		ab[41] = NaN;
		expect(arena.k.dare_bits(ptr(ax), ptr(ab), 64, arena.words.byteOffset, 0, 1, 2, 3, 2 ** 31, arena.sums.byteOffset)).toBeGreaterThan(0);
		ax[40] = 1;
		ab[41] = 0.5;
		ax[63] = -Infinity; // in the scalar tail of a 63-element block
		expect(arena.k.dare_bits(ptr(ax), ptr(ab), 63, arena.words.byteOffset, 0, 1, 2, 3, 2 ** 31, arena.sums.byteOffset)).toBe(0);
		expect(arena.k.dare_bits(ptr(ax), ptr(ab), 64, arena.words.byteOffset, 0, 1, 2, 3, 2 ** 31, arena.sums.byteOffset)).toBeGreaterThan(0);
	});
});

describe("two-model fills and mixes as their TypeScript twins", () => {
	const f64bits = (a: Float64Array) =>
		Array.from(new BigUint64Array(a.buffer, a.byteOffset, a.length), (v, i) => (Number.isNaN(a[i]!) ? "NaN" : v));

	test.each(FACTORS)("fill_cuts / fill_random / fill_bits / fill_all, sv=%d w=%d", (sv, w) => {
		const [c0] = arena.contrib;
		for (const [i, n] of [1, 31, 33, 1000, 2048].entries()) {
			const { x, b, ax, ab } = placed(n, 600 + i);
			const js = new Float64Array(n);
			const out = c0.subarray(0, n);
			const [kLo, kHi, limit, cs] = [21, 22, 0x40000000, 1234];
			const hiMix = Math.imul(kHi, 0x9e3779b1);
			const bits = new Int32Array(Math.ceil(n / 32)).map((_, j) => counterHash(j, 1, 2, 3));
			const lane = { keyLo: kLo, keyHi: kHi, keyHiMix: hiMix, keepLimit: limit, scaleValue: sv, weight: w, bits } as unknown as Lane;
			for (const [tU, tL] of [
				[0.003, Infinity],
				[0.002, 0.009],
			] as const) {
				cutsValues(x, b, 0, n, tU, tL, sv, w, js, 0);
				arena.k.fill_cuts(ptr(ax), ptr(ab), n, tU, tL, sv, w, out.byteOffset);
				expect(f64bits(out)).toEqual(f64bits(js));
			}
			randomValues(x, b, 0, n, lane, cs, js);
			arena.k.fill_random(ptr(ax), ptr(ab), n, cs, kLo, kHi, hiMix, limit, sv, w, out.byteOffset);
			expect(f64bits(out)).toEqual(f64bits(js));
			bitsValues(x, b, 0, n, lane, 0, js);
			arena.words.set(bits);
			arena.k.fill_bits(ptr(ax), ptr(ab), n, arena.words.byteOffset, sv, w, out.byteOffset);
			expect(f64bits(out)).toEqual(f64bits(js));
			allValues(x, b, 0, n, w, js);
			arena.k.fill_all(ptr(ax), ptr(ab), n, w, out.byteOffset);
			expect(f64bits(out)).toEqual(f64bits(js));
		}
	});

	test.each([
		[1, false],
		[1, true],
		[0, false],
		[0, true],
	] as const)("mix (consensus %d, divide %s)", (cm, divide) => {
		const n = 2048;
		const { b, ab, dst, js } = placed(n, 700 + cm * 2 + Number(divide));
		const [v0, v1] = arena.contrib;
		const special = [0, -0, Infinity, -Infinity, NaN, 1e300, -1e300, 5e-324];
		for (let i = 0; i < n; i++) {
			v0[i] = i % 37 === 0 ? special[i % special.length]! : Math.sin(i) * 0.01;
			v1[i] = i % 41 === 0 ? special[(i >> 1) % special.length]! : i % 5 === 0 ? -v0[i]! : Math.cos(i * 1.3) * 0.01;
		}
		for (const [T, lambda] of [
			[[1, 1 / 0.3, 1 / 0.7, 1], 1],
			[[1, 0.3, 0.7, 3], 0.6],
			[[1, 2, 4, 0.5], 1e300],
		] as const) {
			const M = { loop: 0, elect: cm === 1, divide, divisors: Float64Array.from(T), lambda, opts: undefined } as unknown as Mixer;
			const badJs = mixTwo(b, js, 0, 0, n, v0.slice(), v1.slice(), M);
			const copies = [v0.slice(), v1.slice()];
			expect(mixTwoWasm(arena, ab, dst, 0, n, M)).toBe(badJs);
			expect(results(dst)).toEqual(results(js));
			expect([v0.slice(), v1.slice()]).toEqual(copies);
		}
	});
});
