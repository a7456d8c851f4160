import { describe, expect, test } from "vitest";
import { MethodError } from "../../src/errors.js";
import { nearswap, nearswapMethod } from "../../src/methods/nearswap.js";
import { f32 } from "../helpers/arrays.js";
import { mergeContext } from "../helpers/context.js";
import { thrown } from "../helpers/errors.js";

const ctx = mergeContext(0, "t");

describe("nearswap", () => {
	test("clamp: near entries are swapped in, far ones move by t towards the model", () => {
		const base = f32([0, 0, 0, 0, 2]);
		const model = f32([1e-9, 0.005, 0.5, 100, -1]);
		const out = nearswap(base, model, 0.01);
		// |Δ| = 1e-9 → floor 1e-6 → w = 1e4 → 1; 0.005 < t → w = 2 → 1; 0.5 → w = 0.02; 100 → w = 1e-4; 3 → w = 1/300.
		const expected = [1e-9, 0.005, 0.01, 0.01, 2 - 0.01];
		expected.forEach((e, i) => {
			expect(out[i]).toBeCloseTo(e, 7);
		});
		expect(out[0]).toBe(model[0]);
		expect(out[1]).toBe(model[1]);
	});

	test("identical inputs are returned, no NaN", () => {
		const x = f32([0, 1, -2, 0]);
		expect(nearswap(x, x.slice(), 0.1)).toEqual(x);
	});

	test("t ≤ 0 is InvalidParameter", () => {
		expect(thrown(() => nearswap(f32([0]), f32([1]), 0))).toMatchObject({ constructor: MethodError, kind: "InvalidParameter" });
	});

	test("method: elementwise, so chunks give the same result as the whole tensor", () => {
		const base = f32([0, 1, 2, 3, 4, 5]);
		const model = f32([0.001, 1.5, 2, -3, 4.02, 9]);
		const run = (b: Float32Array, m: Float32Array, offset: number) =>
			nearswapMethod.merge(
				{ tensorName: "w", shape: [6], base: b, models: [m], params: { t: 0.05 }, modelParams: [{}], elementOffset: offset },
				ctx,
			);
		const whole = run(base, model, 0);
		const parts = [...run(base.subarray(0, 4), model.subarray(0, 4), 0), ...run(base.subarray(4), model.subarray(4), 4)];
		expect(f32(parts)).toEqual(whole);
		expect(nearswapMethod.elementwise?.({ t: 0.05 }, [{}])).toBe(true);
		expect([nearswapMethod.minModels, nearswapMethod.maxModels, nearswapMethod.base]).toEqual([1, 1, "required"]);
	});
});
