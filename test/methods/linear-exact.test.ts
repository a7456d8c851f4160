/**
 * Linear's unrolled loops must produce exactly the documented expression per element:
 * float64 (w₀·x₀ + w₁·x₁ + …) ÷ Σw, rounded once to float32, for every length (unrolled body and tail), with and
 * without writing in place.
 */
import { describe, expect, test } from "vitest";
import { exactReciprocal, linear, linearMethod } from "../../src/methods/linear.js";
import { float32Bits } from "../helpers/arrays.js";
import { mergeContext } from "../helpers/context.js";
import { randomArray } from "../helpers/random.js";

/** The definition, one element at a time. */
function reference(models: Float32Array[], weights: number[], normalize: boolean): Float32Array {
	const divisor = normalize ? weights.reduce((s, w) => s + w, 0) : 1;
	return models[0]!.map((_, i) => {
		let s = weights[0]! * models[0]![i]!;
		for (let m = 1; m < models.length; m++) s += weights[m]! * models[m]![i]!;
		return s / divisor;
	});
}

describe("linear is bit-exact with its definition", () => {
	const lengths = [0, 1, 2, 3, 4, 5, 7, 8, 9, 1023, 2049];
	test.each([
		[[0.3, 0.6], true],
		[[0.3, 0.6], false],
		[[1, 3], true],
		[[0.5, 0.5], true],
		[[-0.75, -1.25], true],
		[[0.7], true],
		[[-1.5], false],
		[[0.2, 0.5, 0.4], true],
	] as const)("weights %j, normalize %s, every length, copy and in place", (weights, normalize) => {
		for (const n of lengths) {
			const models = weights.map((_, m) => randomArray(n, 10 * n + m).map((v, i) => v * 10 ** ((i % 7) - 3)));
			if (n > 2) {
				models[0]![1] = Number.NaN;
				models[0]![2] = -0;
			}
			const expected = float32Bits(reference(models, [...weights], normalize), 0x7fc00000);
			expect(float32Bits(linear(models, [...weights], { normalize }), 0x7fc00000)).toEqual(expected);
			const owned = models.map((x) => x.slice());
			const out = linearMethod.merge(
				{
					tensorName: "w",
					shape: [n],
					base: undefined,
					models: owned,
					params: { normalize },
					modelParams: weights.map((weight) => ({ weight })),
					inPlace: true,
				},
				mergeContext(0, "w"),
			);
			expect(float32Bits(out, 0x7fc00000)).toEqual(expected);
		}
	});
});

describe("exactReciprocal", () => {
	test.each([
		[1, 1],
		[2, 0.5],
		[-0.25, -4],
		[2 ** -1022, 2 ** 1022],
		[2 ** 1022, 2 ** -1022],
	])("%d → %d", (d, r) => {
		expect(exactReciprocal(d)).toBe(r);
	});
	test.each([3, 0.9, 1 + 2 ** -52, 2 ** -1023, 2 ** -1074, 2 ** 1023, 0, -0, Infinity, Number.NaN])("%d has none", (d) => {
		expect(exactReciprocal(d)).toBeUndefined();
	});
	test("dividing and multiplying by the reciprocal agree on edge numerators", () => {
		const numerators = [0, -0, 1, -3.5, 1e-310, 5e-324, 1.7976931348623157e308, -Infinity, Number.NaN, Math.PI, 2 ** -1000];
		for (const d of [1, -1, 2, 0.5, 2 ** 1000, 2 ** -1000, -(2 ** 1022)]) {
			const r = exactReciprocal(d)!;
			for (const s of numerators) expect(Object.is(s * r, s / d)).toBe(true);
		}
	});
});
