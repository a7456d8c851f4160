import { describe, expect, test } from "vitest";
import { ABS_MASK, absRankCut, bitsOf, INF_KEY, keyOf, topDigitHistogram, valueOfKey } from "../../src/tensor/radix-select.js";
import { tiedData } from "./tied-data.js";

/** Indices of the k largest |x| by a stable sort (ties: lower index first; NaN largest). */
function referenceTopK(x: Float32Array, k: number): Set<number> {
	const bits = bitsOf(x);
	const order = Array.from(x, (_, i) => i).sort((p, q) => (bits[q]! & ABS_MASK) - (bits[p]! & ABS_MASK) || p - q);
	return new Set(order.slice(0, Math.max(0, k)));
}

function selected(x: Float32Array, cut: { key: number; tieEnd: number }): Set<number> {
	const bits = bitsOf(x);
	const out = new Set<number>();
	for (let i = 0; i < x.length; i++) {
		const key = bits[i]! & ABS_MASK;
		if (key > cut.key || (key === cut.key && i < cut.tieEnd)) out.add(i);
	}
	return out;
}

describe("absRankCut", () => {
	test.each([
		["many distinct values (gather path)", 6000, 4000],
		["40 tie levels", 5000, 40],
		["3 tie levels (a bucket above n/8: filtered passes)", 5000, 3],
	])("%s: the cut selects exactly the reference top-k", (_, n, levels) => {
		const x = tiedData(n, levels, levels);
		const bits = bitsOf(x);
		const top = topDigitHistogram(bits);
		for (const k of [1, 2, 37, Math.floor(n / 3), Math.floor(n / 2), n - 1, n]) {
			const cut = absRankCut(bits, k, top);
			expect(selected(x, cut)).toEqual(referenceTopK(x, k));
			expect(absRankCut(bits, k)).toEqual(cut);
			// takeEqual counts the ties taken; tieEnd is one past the last of them.
			let ties = 0;
			for (let i = 0; i < cut.tieEnd; i++) if ((bits[i]! & ABS_MASK) === cut.key) ties++;
			expect(ties).toBe(cut.takeEqual);
		}
	});
	test("k ≤ 0 selects nothing, k > n everything", () => {
		const x = tiedData(100, 1);
		expect(selected(x, absRankCut(bitsOf(x), 0)).size).toBe(0);
		expect(selected(x, absRankCut(bitsOf(x), 101)).size).toBe(100);
	});
	test("all elements equal: the first k by index", () => {
		const x = new Float32Array(1000).fill(-0.5);
		const cut = absRankCut(bitsOf(x), 300);
		expect(cut.takeEqual).toBe(300);
		expect(cut.tieEnd).toBe(300);
	});
	test("topDigitHistogram counts every element once", () => {
		const x = tiedData(3001, 2);
		const hist = topDigitHistogram(bitsOf(x));
		expect(hist.reduce((a, b) => a + b, 0)).toBe(3001);
	});
});

describe("keyOf / valueOfKey", () => {
	test("keys order like |v| rounded to float32, and valueOfKey returns that magnitude", () => {
		const values = [0, -0, 1e-45, -3e-39, 0.1, -0.1, 1, -2.5, 3.4e38, Infinity, -Infinity];
		for (const v of values) expect(valueOfKey(keyOf(v))).toBe(Math.abs(Math.fround(v)));
		const sorted = [...values].sort((p, q) => Math.abs(p) - Math.abs(q));
		for (let i = 1; i < sorted.length; i++) expect(keyOf(sorted[i]!)).toBeGreaterThanOrEqual(keyOf(sorted[i - 1]!));
		expect(keyOf(-0)).toBe(keyOf(0));
		expect(keyOf(Number.NaN)).toBeGreaterThan(INF_KEY);
	});
	test("below key 0 every magnitude is above the value; at NaN keys none is", () => {
		expect(valueOfKey(-1)).toBe(Number.NEGATIVE_INFINITY);
		expect(valueOfKey(INF_KEY)).toBe(Number.POSITIVE_INFINITY);
		expect(valueOfKey(INF_KEY + 1)).toBe(Number.POSITIVE_INFINITY);
		expect(valueOfKey(0x80000000)).toBe(Number.POSITIVE_INFINITY);
	});
});
