import { describe, expect, test } from "vitest";
import { MethodError } from "../../src/errors.js";
import { rngKey, uniformAt } from "../../src/tensor/rng.js";
import { assertInputs, assertModelCount, combineOffsets, offsetGram, rowLength, selectInPlace } from "../../src/tensor/vector-ops.js";
import { f32 } from "../helpers/arrays.js";
import { thrown } from "../helpers/errors.js";

describe("vector-ops", () => {
	test("offsetGram: inner products of the offsets, symmetric, over a range", () => {
		const base = f32([1, 1, 1]);
		const v = [f32([2, 1, 3]), f32([1, 4, 1])]; // offsets (1, 0, 2) and (0, 3, 0)
		expect([...offsetGram(v, base)]).toEqual([5, 0, 0, 9]);
		expect([...offsetGram(v, undefined)]).toEqual([14, 9, 9, 18]);
		expect([...offsetGram(v, base, 1, 2)]).toEqual([0, 0, 0, 9]);
	});

	test("combineOffsets: b + Σ cᵢ(vᵢ − b), over a range", () => {
		const base = f32([1, 1, 1]);
		const out = new Float32Array(3);
		combineOffsets(out, [f32([2, 1, 3]), f32([1, 4, 1])], [0.5, 2], base);
		expect([...out]).toEqual([1.5, 7, 2]);
		const part = new Float32Array(3);
		combineOffsets(part, [f32([2, 1, 3])], [3], undefined, 2, 3);
		expect([...part]).toEqual([0, 0, 9]);
	});

	test.each([1, 2, 3, 10, 257, 5000])("selectInPlace agrees with sort at every probed rank (n = %i)", (n) => {
		const key = rngKey(1, "sel", n);
		const values = Float64Array.from({ length: n }, (_, i) => Math.floor(uniformAt(key, i) * 7) - 3);
		const sorted = Float64Array.from(values).sort();
		for (const k of new Set([0, n >> 2, n >> 1, n - 1])) {
			const a = Float64Array.from(values);
			expect(selectInPlace(a, k)).toBe(sorted[k]);
			for (let i = 0; i < k; i++) expect(a[i]! <= a[k]!).toBe(true);
			for (let i = k + 1; i < n; i++) expect(a[i]! >= a[k]!).toBe(true);
		}
	});

	test("selectInPlace on already sorted and constant input", () => {
		const asc = Float64Array.from({ length: 100 }, (_, i) => i);
		expect(selectInPlace(asc.slice(), 37)).toBe(37);
		expect(selectInPlace(asc.slice().reverse(), 37)).toBe(37);
		expect(selectInPlace(new Float64Array(50).fill(2), 10)).toBe(2);
	});

	test("rowLength: whole tensor, last axis, scalars", () => {
		expect(rowLength([4, 3], 12, true)).toBe(12);
		expect(rowLength([4, 3], 12, false)).toBe(3);
		expect(rowLength([5], 5, false)).toBe(5);
		expect(rowLength([], 1, false)).toBe(1);
	});

	test("input checks throw MethodError InvalidInput", () => {
		expect(assertInputs("m", "t", f32([1, 2]), [f32([1, 2])], [2])).toBe(2);
		expect(thrown(() => assertInputs("m", "t", f32([1, 2]), [f32([1])]))).toMatchObject({ constructor: MethodError, kind: "InvalidInput" });
		expect(thrown(() => assertInputs("m", "t", f32([1, 2]), [], [3]))).toMatchObject({ kind: "InvalidInput" });
		expect(thrown(() => assertInputs("m", "t", undefined, []))).toMatchObject({ kind: "InvalidInput" });
		expect(thrown(() => assertModelCount("m", "t", 3, 1, 2))).toMatchObject({ kind: "InvalidInput" });
		expect(() => assertModelCount("m", "t", 2, 1, Number.POSITIVE_INFINITY)).not.toThrow();
	});
});
