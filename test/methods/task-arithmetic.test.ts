import { describe, expect, test } from "vitest";
import { breadcrumbsMethod, breadcrumbsTiesMethod } from "../../src/methods/breadcrumbs.js";
import { dareLinearMethod, dareTiesMethod } from "../../src/methods/dare.js";
import { dellaLinearMethod, dellaMethod } from "../../src/methods/della.js";
import { taskArithmetic, taskArithmeticMethod } from "../../src/methods/task-arithmetic.js";
import { mergeTaskVectors } from "../../src/methods/task-vector/index.js";
import { tiesMethod } from "../../src/methods/ties.js";
import { closeTo } from "../helpers/close.js";
import { mergeContext as ctx } from "../helpers/context.js";
import { kindOf } from "../helpers/errors.js";

const base = new Float32Array([1, 2, 3]);
const x1 = new Float32Array([2, 2, 5]); // δ1 = [1, 0, 2]
const x2 = new Float32Array([0, 4, 3]); // δ2 = [-1, 2, 0]

describe("mergeTaskVectors without consensus (task_arithmetic)", () => {
	test.each([
		[false, 1, [0.5, 4, 4]],
		[true, 1, [2 / 3, 10 / 3, 11 / 3]],
		[false, 2, [0, 6, 5]],
		[true, 0.5, [1 - 1 / 6, 2 + 2 / 3, 3 + 1 / 3]],
	])("normalize %s, lambda %d", (normalize, lambda, expected) => {
		const out = taskArithmetic(base, [x1, x2], { weights: [0.5, 1], normalize, lambda });
		expect(Array.from(out)).toEqual(closeTo(expected));
	});
	test("weights summing to ~0 leave the sum undivided", () => {
		const out = taskArithmetic(base, [x1, x2], { weights: [1, -1], normalize: true });
		expect(Array.from(out)).toEqual([3, 0, 5]);
	});
	test("no task vectors returns a copy of the base", () => {
		const out = mergeTaskVectors(base, [], { weights: [] });
		expect(out).toEqual(base);
		expect(out).not.toBe(base);
	});
	test("a model equal to the base reproduces it bit for bit (incl. −0)", () => {
		const b = new Float32Array([-0, 0.1, -3.7, 1e-30]);
		const out = taskArithmetic(b, [b.slice(), b.slice()], { weights: [0.3, 0.9], normalize: true });
		expect(new Uint32Array(out.buffer)).toEqual(new Uint32Array(b.buffer));
	});
	test("errors: length mismatch, weight count", () => {
		expect(kindOf(() => taskArithmetic(base, [new Float32Array(2)], { weights: [1] }))).toBe("InvalidInput");
		expect(kindOf(() => taskArithmetic(base, [x1], { weights: [1, 2] }))).toBe("InvalidInput");
		expect(kindOf(() => mergeTaskVectors(base, [x1], { weights: [1], sparsify: "random", densities: [0.5] }))).toBe("InvalidInput");
	});
});

describe("the registered method", () => {
	const input = {
		tensorName: "w",
		shape: [3],
		base,
		models: [x1, x2],
		params: { normalize: false, rescale: false, lambda: 1, int8_mask: false },
		modelParams: [
			{ weight: 0.5, density: 1 },
			{ weight: 1, density: 1 },
		],
	};
	test("merge() equals the plain function", () => {
		expect(taskArithmeticMethod.merge(input, ctx(0, "w"))).toEqual(taskArithmetic(base, [x1, x2], { weights: [0.5, 1] }));
	});
	test("missing base is InvalidInput; missing weight is InvalidParameter", () => {
		expect(kindOf(() => taskArithmeticMethod.merge({ ...input, base: undefined }, ctx(0, "w")))).toBe("InvalidInput");
		expect(kindOf(() => taskArithmeticMethod.merge({ ...input, modelParams: [{}, {}] }, ctx(0, "w")))).toBe("InvalidParameter");
	});
	test("self-description: defaults per variant (spec table 1.1)", () => {
		const table = [
			[taskArithmeticMethod, false, false, false],
			[tiesMethod, true, false, false],
			[dareTiesMethod, false, true, true],
			[dareLinearMethod, false, true, true],
			[breadcrumbsMethod, false, false, false],
			[breadcrumbsTiesMethod, false, false, false],
			[dellaMethod, true, true, true],
			[dellaLinearMethod, false, true, true],
		] as const;
		for (const [method, normalize, rescale, random] of table) {
			expect([method.name, method.params.normalize?.default, method.params.rescale?.default, method.random]).toEqual([
				method.name,
				normalize,
				rescale,
				random,
			]);
			expect(method.base).toBe("required");
			expect(method.modelParams.weight?.required).toBe(true);
			expect(method.modelParams.density?.default).toBe(1);
			expect(method.params.lambda?.default).toBe(1);
			expect(method.params.int8_mask?.default).toBe(false);
		}
		expect(breadcrumbsMethod.modelParams.gamma?.default).toBe(0.01);
		expect(dellaMethod.modelParams.epsilon?.default).toBe(0.15);
		expect(taskArithmeticMethod.ignoredModelParams).toEqual(["density"]);
		expect(dareTiesMethod.params.rescale).toMatchObject({ type: "enum", values: [true, false, "inverse_density"] });
	});
	test.each([
		[taskArithmeticMethod, false, 0.5, true],
		[tiesMethod, false, 0.5, false],
		[tiesMethod, false, 1, true],
		[dareTiesMethod, true, 0.5, false],
		[dareTiesMethod, "inverse_density", 0.5, true],
		[dareLinearMethod, false, 0.5, true],
		[breadcrumbsMethod, false, 0.5, false],
		[dellaMethod, true, 0.5, false],
	] as const)("elementwise: %o with rescale %s, density %d → %s", (method, rescale, density, expected) => {
		const params = { normalize: false, rescale, lambda: 1, int8_mask: false };
		expect(method.elementwise?.(params, [{ weight: 1, density }])).toBe(expected);
	});
});
