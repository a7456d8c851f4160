import { describe, expect, test } from "vitest";
import { MethodError } from "../../src/errors.js";
import { nuslerp, nuslerpMethod, nuslerpT } from "../../src/methods/nuslerp.js";
import { f32 } from "../helpers/arrays.js";
import { expectClose } from "../helpers/close.js";
import { mergeContext } from "../helpers/context.js";
import { thrown } from "../helpers/errors.js";

const ctx = mergeContext(0, "t");

// A 2×3 example: rows (1,0,0)/(0,1,0) vs (0,1,0)/(0,1,0).
const A = f32([1, 0, 0, 0, 1, 0]);
const B = f32([0, 1, 0, 0, 1, 0]);
const S2 = Math.SQRT1_2;
const C = Math.sin(Math.PI / 8) / Math.sin(Math.PI / 4);

describe("nuslerp", () => {
	test("t from weights, with the zero-sum rule", () => {
		expect(nuslerpT(1, 3)).toBe(0.75);
		expect(nuslerpT(-0.5, 0.5)).toBe(0.5);
		expect(nuslerpT(2, -2 + 1e-7)).toBe(0.5);
	});

	test.each([
		// Whole tensor: |a| = |b| = √2, cos = 1/2, θ = π/3, both coefficients sin(π/6)/sin(π/3) = 1/√3.
		["flatten", { flatten: true }, [1, 1, 0, 0, 2, 0].map((x) => x / Math.sqrt(3))],
		// Per row: row 0 orthogonal → (a+b)/√2; row 1 identical → lerp → itself.
		["per row", { flatten: false }, [S2, S2, 0, 0, 1, 0]],
		// Per column: col 0 (1,0) vs (0,0) → θ = π/2 → √½·a; col 1 (0,1) vs (1,1) → θ = π/4; col 2 zeros.
		["row-wise (columns)", { flatten: false, rowWise: true }, [S2, C, 0, 0, 2 * C, 0]],
	] as const)("%s on a 2×3 example", (_label, mode, expected) => {
		expectClose(nuslerp(A, B, 0.5, { shape: [2, 3], ...mode }), [...expected]);
	});

	test("flatten wins over row_wise", () => {
		expect(nuslerp(A, B, 0.3, { shape: [2, 3], rowWise: true })).toEqual(nuslerp(A, B, 0.3, { shape: [2, 3] }));
	});

	test("endpoints are exact, also with a base", () => {
		const a = f32([0.1, -2.5, 3.25, 7]);
		const b = f32([1.5, 0.3, -1, 2]);
		const base = f32([0.2, 0.2, -0.7, 1]);
		expect(nuslerp(a, b, 0)).toEqual(a);
		expect(nuslerp(a, b, 1)).toEqual(b);
		expect(nuslerp(a, b, 0, { base })).toEqual(a);
		expect(nuslerp(a, b, 1, { base })).toEqual(b);
	});

	test("with a base it interpolates the task vectors", () => {
		const base = f32([1, -1, 2, 0.5, 0, 3]);
		const a = A.map((x, i) => x + base[i]!);
		const b = B.map((x, i) => x + base[i]!);
		const expected = [1, 1, 0, 0, 2, 0].map((x, i) => x / Math.sqrt(3) + base[i]!);
		expectClose(nuslerp(a, b, 0.5, { base }), expected);
	});

	test("result keeps the norm of equal-norm inputs and bisects the angle", () => {
		const a = f32([3, 0, 0, 4]);
		const b = f32([0, 5, 0, 0]);
		const out = nuslerp(a, b, 0.5);
		const norm = Math.hypot(...out);
		expect(norm).toBeCloseTo(5, 5);
		const cosA = (out[0]! * 3 + out[3]! * 4) / (norm * 5);
		const cosB = (out[1]! * 5) / (norm * 5);
		expect(cosA).toBeCloseTo(cosB, 6);
	});

	test("method: weights −0.5/+0.5 sum to 0 → t = 0.5", () => {
		const out = nuslerpMethod.merge(
			{
				tensorName: "w",
				shape: [2, 3],
				base: undefined,
				models: [A, B],
				params: { nuslerp_flatten: true, nuslerp_row_wise: false },
				modelParams: [{ weight: -0.5 }, { weight: 0.5 }],
			},
			ctx,
		);
		expectClose(
			out,
			[1, 1, 0, 0, 2, 0].map((x) => x / Math.sqrt(3)),
		);
	});

	test.each([
		["flatten", { flatten: true }],
		["per row", { flatten: false }],
		["row-wise", { flatten: false, rowWise: true }],
	] as const)("zero inputs give zeros, no NaN (%s)", (_l, mode) => {
		const z = new Float32Array(6);
		expect(nuslerp(z, z, 0.4, { shape: [2, 3], ...mode })).toEqual(new Float32Array(6));
	});

	test("method: wrong model count is InvalidInput", () => {
		const run = () =>
			nuslerpMethod.merge(
				{
					tensorName: "w",
					shape: [2],
					base: undefined,
					models: [f32([1, 2])],
					params: { nuslerp_flatten: true, nuslerp_row_wise: false },
					modelParams: [{ weight: 1 }],
				},
				ctx,
			);
		expect(thrown(run)).toMatchObject({ constructor: MethodError, kind: "InvalidInput" });
	});

	test("spec", () => {
		expect(nuslerpMethod.name).toBe("nuslerp");
		expect([nuslerpMethod.minModels, nuslerpMethod.maxModels, nuslerpMethod.base]).toEqual([2, 2, "optional"]);
	});
});
