import { describe, expect, test } from "vitest";
import { della, dellaMethod } from "../../src/methods/della.js";
import { ties } from "../../src/methods/ties.js";
import { mergeContext } from "../helpers/context.js";
import { kindOf } from "../helpers/errors.js";
import { randomArray } from "../helpers/random.js";

const shape = [16, 32];
const base = randomArray(512, 1);
const models = [randomArray(512, 2), randomArray(512, 3)];
const weights = [0.6, 0.4];

describe("della", () => {
	test("density + epsilon ≥ 1 is InvalidParameter", () => {
		expect(kindOf(() => della(base, models, { weights, densities: [0.66, 0.66], epsilons: [1.35, 1.35], shape }))).toBe("InvalidParameter");
		expect(kindOf(() => della(base, models, { weights, densities: [0.9, 0.5], epsilons: [0.15, 0.15], shape }))).toBe("InvalidParameter");
	});
	test("no NaN or Inf (density 0.66, epsilon 0.05, lambda 0.5)", () => {
		const out = della(base, models, { weights, densities: [0.66, 0.66], epsilons: [0.05, 0.05], lambda: 0.5, shape, tensorName: "w" });
		expect(out.every(Number.isFinite)).toBe(true);
		expect(out).not.toEqual(ties(base, models, { weights }));
	});
	test("density 1 equals ties at density 1", () => {
		expect(della(base, models, { weights, shape })).toEqual(ties(base, models, { weights }));
	});
	test("the method draws the same streams as the plain function", () => {
		const name = "model.layers.0.mlp.down_proj.weight";
		const ctx = mergeContext(9, name);
		const out = dellaMethod.merge(
			{
				tensorName: name,
				shape,
				base,
				models,
				params: { normalize: true, rescale: true, lambda: 1, int8_mask: false },
				modelParams: weights.map((weight) => ({ weight, density: 0.5, epsilon: 0.1 })),
			},
			ctx,
		);
		expect(out).toEqual(della(base, models, { weights, densities: [0.5, 0.5], epsilons: [0.1, 0.1], shape, seed: 9, tensorName: name }));
	});
});
