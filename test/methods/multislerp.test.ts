import { describe, expect, test } from "vitest";
import { MethodError } from "../../src/errors.js";
import { multislerp, multislerpMethod } from "../../src/methods/multislerp.js";
import { f32 } from "../helpers/arrays.js";
import { expectClose } from "../helpers/close.js";
import { mergeContext } from "../helpers/context.js";
import { thrown } from "../helpers/errors.js";

const ctx = mergeContext(0, "t");

const S2 = Math.SQRT1_2;

describe("multislerp", () => {
	test("two orthogonal unit vectors at equal weights: the geodesic midpoint (norm 1, 45° to each)", () => {
		const out = multislerp([f32([1, 0, 0]), f32([0, 1, 0])], [1, 1]);
		expectClose(out, [S2, S2, 0]);
		expect(Math.hypot(...out)).toBeCloseTo(1, 6);
		expect(Math.acos(out[0]! / Math.hypot(...out))).toBeCloseTo(Math.PI / 4, 6);
	});

	test("the norm is the weighted mean norm", () => {
		// Directions (1,0) and (0,1), norms 2 and 4 → midpoint direction scaled to 3.
		expectClose(multislerp([f32([2, 0]), f32([0, 4])], [0.5, 0.5]), [3 * S2, 3 * S2]);
	});

	test("unequal weights: direction of Σwᵢuᵢ, length Σwᵢ‖yᵢ‖", () => {
		const out = multislerp([f32([2, 0]), f32([0, 4])], [1, 3]);
		const norm = Math.hypot(...out);
		expect(norm).toBeCloseTo(0.25 * 2 + 0.75 * 4, 6);
		expect(Math.atan2(out[1]!, out[0]!)).toBeCloseTo(Math.atan(3), 6);
	});

	test("weights are normalized unless told not to", () => {
		const models = [f32([1, 0]), f32([0, 1])];
		expect(multislerp(models, [2, 2])).toEqual(multislerp(models, [0.5, 0.5]));
		// Unnormalized weights 2, 2: same direction, length Σwᵢ‖yᵢ‖ = 4.
		expectClose(multislerp(models, [2, 2], { normalizeWeights: false }), [4 * S2, 4 * S2]);
	});

	test("with a base it works on task vectors", () => {
		const base = f32([1, -1, 0.5]);
		const out = multislerp([f32([3, -1, 0.5]), f32([1, 3, 0.5])], [1, 1], { base });
		expectClose(out, [1 + 3 * S2, -1 + 3 * S2, 0.5], 1e-5);
	});

	test("antipodal pair falls back to the weighted sum", () => {
		expectClose(multislerp([f32([1, 0]), f32([-1, 0])], [1, 1]), [0, 0]);
		expectClose(multislerp([f32([2, 0]), f32([-1, 0])], [1, 1]), [0.5, 0]);
	});

	test("three cancelling directions: MethodError Numerical", () => {
		const run = () => multislerp([f32([1, 0]), f32([-1, 0]), f32([0, 1])], [1, 1, 0], { tensorName: "x" });
		expect(thrown(run)).toMatchObject({ constructor: MethodError, kind: "Numerical" });
	});

	test("weights summing to 0 cannot be normalized: InvalidParameter", () => {
		const run = () => multislerp([f32([1, 0]), f32([0, 1])], [1, -1]);
		expect(thrown(run)).toMatchObject({ constructor: MethodError, kind: "InvalidParameter" });
	});

	test("zero task vectors (every model equals the base) return the base, no NaN", () => {
		const base = f32([0.5, -2, 3]);
		for (const n of [2, 3]) {
			expect(
				multislerp(
					Array.from({ length: n }, () => base.slice()),
					new Array(n).fill(1),
					{ base },
				),
			).toEqual(base);
		}
		expect(multislerp([new Float32Array(3), new Float32Array(3), new Float32Array(3)], [1, 1, 1])).toEqual(new Float32Array(3));
	});

	test("merging a model with itself reproduces it", () => {
		const x = f32([0.3, -1.2, 4, 0]);
		expectClose(multislerp([x, x, x], [0.2, 0.3, 0.5]), [...x], 1e-6);
	});

	test("method passes weights, base and params", () => {
		const out = multislerpMethod.merge(
			{
				tensorName: "w",
				shape: [2],
				base: f32([1, 1]),
				models: [f32([3, 1]), f32([1, 5])],
				params: { normalize_weights: true, eps: 1e-8 },
				modelParams: [{ weight: 1 }, { weight: 1 }],
			},
			ctx,
		);
		expectClose(out, [1 + 3 * S2, 1 + 3 * S2], 1e-5);
		expect(multislerpMethod.base).toBe("optional");
	});
});
