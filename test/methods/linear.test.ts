import { describe, expect, test } from "vitest";
import { linear, linearMethod } from "../../src/methods/linear.js";
import { rngKey, uniformAt } from "../../src/tensor/rng.js";
import { mergeContext } from "../helpers/context.js";
import { kindOf } from "../helpers/errors.js";

const ctx = mergeContext(0, "w");

describe("linear", () => {
	test.each([[[0.3, 0.7]], [[1, 1]], [[0.1, 0.2, 0.3]], [[2.5]]])(
		"a model merged with itself is the model, bit for bit (weights %j)",
		(weights) => {
			const key = rngKey(1, "x", 0);
			const x = new Float32Array(1000).map((_, i) => (uniformAt(key, i) - 0.5) * 10 ** ((i % 9) - 4));
			x[0] = -0;
			const out = linear(
				weights.map(() => x),
				weights,
			);
			expect(new Uint32Array(out.buffer)).toEqual(new Uint32Array(x.buffer));
		},
	);
	test.each([
		[true, [2.5, 5]],
		[false, [10, 20]],
	])("normalize %s (hand values)", (normalize, expected) => {
		const out = linear([new Float32Array([1, 2]), new Float32Array([3, 6])], [1, 3], { normalize });
		expect(Array.from(out)).toEqual(expected);
	});
	test("weights summing to 0 with normalize are InvalidParameter; without normalize they are fine", () => {
		const models = [new Float32Array([1]), new Float32Array([2])];
		expect(kindOf(() => linear(models, [0.5, -0.5], { tensorName: "w" }))).toBe("InvalidParameter");
		expect(kindOf(() => linear([...models, models[0]!], [0.1, 0.2, -0.3]))).toBe("InvalidParameter");
		expect(Array.from(linear(models, [0.5, -0.5], { normalize: false }))).toEqual([-0.5]);
	});
	test("weights near the float64 limit normalize like their ratios (issue 12: 1e308, 1e308 is not 'weights sum to 0')", () => {
		const x = new Float32Array([1, 2, -4, 0.5, 3.25]);
		const y = new Float32Array([3, 2, 4, 0.25, -1.5]);
		expect(Array.from(linear([x, y], [1e308, 1e308]))).toEqual(Array.from(linear([x, y], [1, 1])));
		expect(Array.from(linear([x, y], [1e308, 3e307]))).toEqual(Array.from(linear([x, y], [10, 3])));
		expect(Array.from(linear([x, y, x], [1e308, 1e308, -1e308]))).toEqual(Array.from(y));
		expect(kindOf(() => linear([x, y], [1e308, -1e308]))).toBe("InvalidParameter");
	});
	test("length and weight-count mismatches are InvalidInput", () => {
		expect(kindOf(() => linear([new Float32Array(2), new Float32Array(3)], [1, 1]))).toBe("InvalidInput");
		expect(kindOf(() => linear([new Float32Array(2)], [1, 1]))).toBe("InvalidInput");
	});
	test("the method equals the plain function and is elementwise", () => {
		const models = [new Float32Array([1, 2]), new Float32Array([3, 6])];
		const out = linearMethod.merge(
			{ tensorName: "w", shape: [2], base: undefined, models, params: { normalize: true }, modelParams: [{ weight: 1 }, { weight: 3 }] },
			ctx,
		);
		expect(Array.from(out)).toEqual([2.5, 5]);
		expect(linearMethod.elementwise?.({ normalize: true }, [])).toBe(true);
		expect(linearMethod.base).toBe("none");
	});
});
