import { describe, expect, test } from "vitest";
import { dare, dareLinearMethod, dareTiesMethod } from "../../src/methods/dare.js";
import { taskArithmetic } from "../../src/methods/task-arithmetic.js";
import { ties } from "../../src/methods/ties.js";
import type { MergeInput } from "../../src/methods/types.js";
import { l1Norm } from "../../src/tensor/ops.js";
import { mergeContext as ctx } from "../helpers/context.js";
import { randomArray } from "../helpers/random.js";

const n = 4000;
const base = randomArray(n, 1);
const models = [randomArray(n, 2), randomArray(n, 3)];
const weights = [0.6, 0.4];

describe("dare", () => {
	test("dare_ties at density 1 equals ties at density 1", () => {
		expect(dare(base, models, { weights, densities: [1, 1], normalize: true })).toEqual(ties(base, models, { weights }));
	});
	test("dare_linear at density 1 equals task_arithmetic", () => {
		expect(dare(base, models, { weights, densities: [1, 1], consensus: false })).toEqual(taskArithmetic(base, models, { weights }));
	});
	test("kept fraction ≈ density on 100k elements", () => {
		const big = 100_000;
		const b = new Float32Array(big);
		const x = new Float32Array(big).fill(1);
		const out = dare(b, [x], { weights: [1], densities: [0.3], consensus: false, rescale: false, tensorName: "big" });
		const kept = out.reduce((c, v) => c + (v !== 0 ? 1 : 0), 0);
		expect(Math.abs(kept / big - 0.3)).toBeLessThan(0.01);
	});
	test("L1 rescale keeps ‖δ‖₁ of a single task vector", () => {
		const out = dare(base, [models[0]!], { weights: [1], densities: [0.5], consensus: false, tensorName: "x" });
		const delta = models[0]!.map((v, i) => v - base[i]!);
		const merged = out.map((v, i) => v - base[i]!);
		expect(l1Norm(merged) / l1Norm(delta)).toBeCloseTo(1, 4);
	});
	test("same seed and name → same output; another name or seed → another", () => {
		const run = (seed: number, tensorName: string) => dare(base, models, { weights, densities: [0.5, 0.5], seed, tensorName });
		expect(run(3, "a")).toEqual(run(3, "a"));
		expect(run(3, "b")).not.toEqual(run(3, "a"));
		expect(run(4, "a")).not.toEqual(run(3, "a"));
	});
	test("the method uses the same streams as the plain function", () => {
		const input: MergeInput<
			Record<string, number | boolean | string | undefined>,
			Record<string, number | boolean | string | undefined>
		> = {
			tensorName: "model.layers.1.self_attn.q_proj.weight",
			shape: [n],
			base,
			models,
			params: { normalize: false, rescale: true, lambda: 1, int8_mask: true },
			modelParams: weights.map((weight) => ({ weight, density: 0.5 })),
		};
		const expected = dare(base, models, { weights, densities: [0.5, 0.5], seed: 11, tensorName: input.tensorName });
		expect(dareTiesMethod.merge(input, ctx(11, input.tensorName))).toEqual(expected);
	});
	test.each([false, "inverse_density"] as const)("elementOffset chunking reproduces the whole tensor (rescale %s)", (rescale) => {
		const name = "chunked";
		const params = { normalize: false, rescale, lambda: 1, int8_mask: false };
		const modelParams = weights.map((weight) => ({ weight, density: 0.4 }));
		expect(dareLinearMethod.elementwise?.(params, modelParams)).toBe(true);
		const whole = dareLinearMethod.merge({ tensorName: name, shape: [n], base, models, params, modelParams }, ctx(5, name));
		const chunked = new Float32Array(n);
		for (const [lo, hi] of [
			[0, 1000],
			[1000, 1001],
			[1001, n],
		] as const) {
			const part = dareLinearMethod.merge(
				{
					tensorName: name,
					shape: [n],
					base: base.slice(lo, hi),
					models: models.map((m) => m.slice(lo, hi)),
					params,
					modelParams,
					elementOffset: lo,
				},
				ctx(5, name),
			);
			chunked.set(part, lo);
		}
		expect(chunked).toEqual(whole);
	});
	test("inverse_density divides kept entries by density", () => {
		const b = new Float32Array(1000);
		const x = new Float32Array(1000).fill(0.5);
		const out = dare(b, [x], { weights: [1], densities: [0.25], consensus: false, rescale: "inverse_density" });
		expect(new Set(out)).toEqual(new Set([0, 2]));
	});
});
