import { describe, expect, test } from "vitest";
import { absRankRangeMask, dot, kthLargestAbsThreshold, l1Norm, sumSquares, topKAbsMask } from "../../src/tensor/ops.js";
import { rngKey, uniformAt } from "../../src/tensor/rng.js";
import { kindOf } from "../helpers/errors.js";

/** Random data with many duplicates, zeros, negative zeros, tiny and huge magnitudes. */
function nastyData(n: number, seed: number): Float32Array {
	const key = rngKey(seed, "ops", 0);
	const out = new Float32Array(n);
	for (let i = 0; i < n; i++) {
		const u = uniformAt(key, i);
		const v = uniformAt(key, i + n);
		if (u < 0.1) out[i] = 0;
		else if (u < 0.2) out[i] = -0;
		else if (u < 0.5)
			out[i] = (v < 0.5 ? -1 : 1) * Math.floor(v * 8); // duplicates of small integers
		else if (u < 0.55)
			out[i] = (v - 0.5) * 1e-40; // subnormals
		else if (u < 0.6) out[i] = (v - 0.5) * 1e30;
		else out[i] = (v - 0.5) * 4;
	}
	return out;
}

describe("reductions", () => {
	const a = new Float32Array([1, -2, 3]);
	const b = new Float32Array([4, 5, -6]);
	test("dot, sumSquares, l1Norm", () => {
		expect(dot(a, b)).toBe(4 - 10 - 18);
		expect(sumSquares(a)).toBe(14);
		expect(l1Norm(a)).toBe(6);
	});
	test("float64 accumulation keeps small terms next to large ones", () => {
		const x = new Float32Array([1e8, 1, 1, 1, 1]);
		expect(l1Norm(x)).toBe(1e8 + 4);
	});
});

describe("kthLargestAbsThreshold", () => {
	test.each([
		[1, 7000],
		[2, 5000],
		[3, 10007],
	])("matches a sort-based reference (seed %i, n %i)", (seed, n) => {
		const x = nastyData(n, seed);
		const sorted = Array.from(x, (v) => Math.abs(v)).sort((p, q) => q - p);
		for (const k of [1, 2, 17, Math.floor(n / 3), Math.floor(n / 2), n - 1, n]) {
			expect(kthLargestAbsThreshold(x, k)).toBe(sorted[k - 1]);
		}
	});
	test("negative zero and zero are equal magnitudes", () => {
		const x = new Float32Array([-0, 0, -0, 1]);
		expect(kthLargestAbsThreshold(x, 2)).toBe(0);
		expect(Array.from(topKAbsMask(x, 2))).toEqual([1, 0, 0, 1]);
	});
	test("NaN ranks above +Infinity", () => {
		const x = new Float32Array([1, Number.NaN, -Infinity, 3]);
		expect(kthLargestAbsThreshold(x, 1)).toBeNaN();
		expect(kthLargestAbsThreshold(x, 2)).toBe(Infinity);
		expect(kthLargestAbsThreshold(x, 3)).toBe(3);
	});
	test.each([0, -1, 5, 1.5])("k = %d is InvalidParameter", (k) => {
		expect(kindOf(() => kthLargestAbsThreshold(new Float32Array(4), k))).toBe("InvalidParameter");
	});
});

describe("topKAbsMask and absRankRangeMask", () => {
	test("ties are kept in index order", () => {
		const x = new Float32Array([1, -2, 2, 0.5, 2]);
		expect(Array.from(topKAbsMask(x, 2))).toEqual([0, 1, 1, 0, 0]);
		expect(Array.from(topKAbsMask(x, 3))).toEqual([0, 1, 1, 0, 1]);
		expect(Array.from(topKAbsMask(x, 4))).toEqual([1, 1, 1, 0, 1]);
	});
	test("k ≤ 0 keeps nothing, k ≥ n keeps everything", () => {
		const x = new Float32Array([3, 1, 2]);
		expect(Array.from(topKAbsMask(x, 0))).toEqual([0, 0, 0]);
		expect(Array.from(topKAbsMask(x, 9))).toEqual([1, 1, 1]);
	});
	test("keeps exactly k, and every kept magnitude ≥ every dropped one", () => {
		const x = nastyData(4096, 9);
		for (const k of [1, 100, 1000, 2048, 4095]) {
			const mask = topKAbsMask(x, k);
			let kept = 0;
			let minKept = Infinity;
			let maxDropped = -Infinity;
			for (let i = 0; i < x.length; i++) {
				const m = Math.abs(x[i]!);
				if (mask[i] === 1) {
					kept++;
					minKept = Math.min(minKept, m);
				} else maxDropped = Math.max(maxDropped, m);
			}
			expect(kept).toBe(k);
			expect(minKept).toBeGreaterThanOrEqual(maxDropped);
		}
	});
	test("rank range [lo, hi) of the descending order", () => {
		const x = new Float32Array([5, -1, 3, 0.5, -4, 2, 10, -0.1, 7, 6]);
		// descending: 10(6) 7(8) 6(9) 5(0) -4(4) 3(2) 2(5) -1(1) 0.5(3) -0.1(7)
		expect(Array.from(absRankRangeMask(x, 1, 6))).toEqual([1, 0, 1, 0, 1, 0, 0, 0, 1, 1]);
		expect(Array.from(absRankRangeMask(x, 3, 3))).toEqual(new Array(10).fill(0));
	});
});
