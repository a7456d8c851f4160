/**
 * Issue 16 item 3: one declaration per parameter, one check. The planner checks recipes (test/plan); here, the entries
 * that bypass it: the plain functions (`ties()`, `slerp()`, ...) check their options against the same declared
 * ranges, and a registered method's `merge` / `chunked.create` check theirs once per call unless the caller promises
 * the planner did (`paramsChecked`, as the executor does). Behind the entries the kernels trust their parameters;
 * with LM_MERGE_DEBUG=1 they assert them.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { breadcrumbs } from "../../src/methods/breadcrumbs.js";
import { dare } from "../../src/methods/dare.js";
import { della, dellaMethod } from "../../src/methods/della.js";
import { karcher, karcherMethod } from "../../src/methods/karcher.js";
import { linear, linearMethod } from "../../src/methods/linear.js";
import { multislerp } from "../../src/methods/multislerp.js";
import { nearswap } from "../../src/methods/nearswap.js";
import { checkMethodParams, methodParamsProblem, paramValueProblem } from "../../src/methods/param-check.js";
import { passthrough } from "../../src/methods/passthrough.js";
import { ram, ramplusTl } from "../../src/methods/ram.js";
import { sce, sceMethod } from "../../src/methods/sce.js";
import { slerp, slerpMethod } from "../../src/methods/slerp.js";
import { taskArithmetic } from "../../src/methods/task-arithmetic.js";
import { mergeTaskVectors } from "../../src/methods/task-vector/index.js";
import { ties, tiesMethod } from "../../src/methods/ties.js";
import { mergeContext } from "../helpers/context.js";
import { kindOf } from "../helpers/errors.js";

const N = 16;
const f32 = (seed: number) => new Float32Array(N).map((_, i) => Math.sin(seed * 7 + i) / 8);
const base = f32(1);
const x = f32(2);
const y = f32(3);
const ctx = mergeContext(5, "w");

describe("plain functions check their options against the methods' declared ranges", () => {
	// `new`: accepted before (out of the recipe's range, or not checked at all); the others were refused already.
	test.each<[string, () => unknown, string]>([
		["ties density 1.5 (new)", () => ties(base, [x], { weights: [1], densities: [1.5] }), "InvalidParameter"],
		["ties density 0", () => ties(base, [x], { weights: [1], densities: [0] }), "InvalidParameter"],
		["ties density keeping no element of 16", () => ties(base, [x], { weights: [1], densities: [0.05] }), "InvalidParameter"],
		["ties NaN weight", () => ties(base, [x], { weights: [Number.NaN] }), "InvalidParameter"],
		["ties infinite weight (new)", () => ties(base, [x], { weights: [Infinity] }), "InvalidParameter"],
		["ties infinite lambda (new)", () => ties(base, [x], { weights: [1], lambda: Infinity }), "InvalidParameter"],
		["ties two weights for one model", () => ties(base, [x], { weights: [1, 1] }), "InvalidInput"],
		["dare density 0 (new)", () => dare(base, [x], { weights: [1], densities: [0] }), "InvalidParameter"],
		["dare a density missing for model 1", () => dare(base, [x, y], { weights: [1, 1], densities: [0.5] }), "InvalidParameter"],
		["breadcrumbs gamma 1.5 (new)", () => breadcrumbs(base, [x], { weights: [1], densities: [0.5], gammas: [1.5] }), "InvalidParameter"],
		["della epsilon -0.1 (new)", () => della(base, [x], { weights: [1], densities: [0.5], epsilons: [-0.1] }), "InvalidParameter"],
		["della band outside (0, 1)", () => della(base, [x], { weights: [1], densities: [0.5], epsilons: [0.6] }), "InvalidParameter"],
		["task arithmetic NaN weight", () => taskArithmetic(base, [x], { weights: [Number.NaN] }), "InvalidParameter"],
		[
			"mergeTaskVectors magnitude density 2 (new)",
			() => mergeTaskVectors(base, [x], { weights: [1], sparsify: "magnitude", densities: [2] }),
			"InvalidParameter",
		],
		["linear weights cancelling out", () => linear([x, y], [1, -1]), "InvalidParameter"],
		["linear NaN weight", () => linear([x, y], [1, Number.NaN]), "InvalidParameter"],
		["slerp t 1.5 (new)", () => slerp(x, y, 1.5), "InvalidParameter"],
		["slerp t NaN", () => slerp(x, y, Number.NaN), "InvalidParameter"],
		["sce select_topk 0", () => sce(base, [x], { selectTopk: 0 }), "InvalidParameter"],
		["ram epsilon -1", () => ram(base, [x], { epsilon: -1 }), "InvalidParameter"],
		["ramplus_tl alpha -1 (new)", () => ramplusTl(base, [x], { alpha: -1 }), "InvalidParameter"],
		["nearswap t 0", () => nearswap(base, x, 0), "InvalidParameter"],
		["multislerp eps 0 (new)", () => multislerp([x, y], [1, 1], { eps: 0 }), "InvalidParameter"],
		["multislerp weights cancelling out", () => multislerp([x, y], [1, -1]), "InvalidParameter"],
		["karcher max_iter 0 (new)", () => karcher([x, y], { maxIter: 0 }), "InvalidParameter"],
		["karcher max_iter 2.5 (new)", () => karcher([x, y], { maxIter: 2.5 }), "InvalidParameter"],
		["karcher tol -1 (new)", () => karcher([x, y], { tol: -1 }), "InvalidParameter"],
		["passthrough scale NaN (new)", () => passthrough(x, Number.NaN), "InvalidParameter"],
	])("%s", (_label, run, kind) => {
		expect(kindOf(run)).toBe(kind);
	});

	test("the bounds themselves are accepted: density 1, t 0 and 1, gamma 0 and 1, epsilon 0", () => {
		expect(kindOf(() => ties(base, [x], { weights: [1], densities: [1] }))).toBeUndefined();
		expect(Array.from(slerp(x, y, 0))).toEqual(Array.from(x));
		expect(Array.from(slerp(x, y, 1))).toEqual(Array.from(y));
		expect(kindOf(() => breadcrumbs(base, [x], { weights: [1], densities: [0.5], gammas: [0] }))).toBeUndefined();
		expect(kindOf(() => breadcrumbs(base, [x], { weights: [1], densities: [0.5], gammas: [1] }))).toBeUndefined();
		expect(kindOf(() => ram(base, [x], { epsilon: 0 }))).toBeUndefined();
	});

	test("the message names the tensor, the parameter, the model and the range", () => {
		expect(() => ties(base, [x, y], { weights: [1, 1], densities: [0.5, 1.5], tensorName: "w" })).toThrow(
			'ties: tensor "w": density of model 1 = 1.5 is outside (0, 1]',
		);
		expect(() => slerp(x, y, 2, "v")).toThrow('slerp: tensor "v": t = 2 is outside [0, 1]');
	});
});

describe("a registered method checks its parameters once per call, unless the planner did", () => {
	const tiesInput = (density: number) => ({
		tensorName: "w",
		shape: [N],
		base,
		models: [x],
		params: {},
		modelParams: [{ weight: 1, density }],
	});

	test("merge and chunked.create refuse what a recipe may not hold", () => {
		expect(kindOf(() => tiesMethod.merge(tiesInput(0.05), ctx))).toBe("InvalidParameter");
		expect(
			kindOf(() => slerpMethod.merge({ tensorName: "w", shape: [N], base, models: [x], params: { t: 2 }, modelParams: [{}] }, ctx)),
		).toBe("InvalidParameter");
		expect(
			kindOf(() =>
				slerpMethod.chunked!.create({ tensorName: "w", shape: [N], numel: N, params: { t: 2 }, modelParams: [{}], models: 1 }, ctx),
			),
		).toBe("InvalidParameter");
		expect(
			kindOf(() =>
				linearMethod.merge(
					{
						tensorName: "w",
						shape: [N],
						base: undefined,
						models: [x, y],
						params: { normalize: true },
						modelParams: [{ weight: 2 }, { weight: -2 }],
					},
					ctx,
				),
			),
		).toBe("InvalidParameter");
		expect(
			kindOf(() =>
				karcherMethod.merge(
					{ tensorName: "w", shape: [N], base: undefined, models: [x, y], params: { max_iter: 0, tol: 1e-5 }, modelParams: [{}, {}] },
					ctx,
				),
			),
		).toBe("InvalidParameter");
		expect(
			kindOf(() =>
				sceMethod.merge(
					{ tensorName: "w", shape: [N], base, models: [x], params: { select_topk: 0, int8_mask: false }, modelParams: [{}] },
					ctx,
				),
			),
		).toBe("InvalidParameter");
		expect(
			kindOf(() =>
				dellaMethod.merge(
					{ tensorName: "w", shape: [N], base, models: [x], params: {}, modelParams: [{ weight: 1, density: 0.5, epsilon: 0.6 }] },
					ctx,
				),
			),
		).toBe("InvalidParameter");
	});

	test("with paramsChecked the kernel trusts them: a density keeping nothing then keeps nothing (the base comes back)", () => {
		const out = tiesMethod.merge({ ...tiesInput(0.05), paramsChecked: true }, ctx);
		expect(Array.from(out)).toEqual(Array.from(base));
	});
});

describe("methodParamsProblem: the declaration's check, in the planner's order", () => {
	test("required, type, range, then each model's constraint, then the tensor's", () => {
		const size = { numel: N, shape: [N] };
		expect(methodParamsProblem(slerpMethod, {}, [{}], size)).toBe('parameter "t" is required');
		expect(methodParamsProblem(slerpMethod, { t: "half" }, [{}], size)).toBe('t = "half" must be a number');
		expect(methodParamsProblem(tiesMethod, {}, [{ density: 0.5 }], size)).toBe('parameter "weight" of model 0 is required');
		expect(methodParamsProblem(dellaMethod, {}, [{ weight: 1 }, { weight: 1, density: 0.5, epsilon: 0.5 }], size)).toMatch(
			/^density of model 1 = 0\.5 and epsilon of model 1 = 0\.5: keep probabilities would span/,
		);
		expect(
			methodParamsProblem(
				tiesMethod,
				{},
				[
					{ weight: 1, density: 0.5 },
					{ weight: 1, density: 0.05 },
				],
				size,
			),
		).toBe("density of model 1 = 0.05: density 0.05 keeps no element of 16 (k = floor(density·n) = 0)");
		expect(methodParamsProblem(tiesMethod, {}, [{ weight: 1, density: 0.05 }], { numel: 20, shape: [20] })).toBeUndefined();
		expect(() => checkMethodParams(linearMethod, {}, [{ weight: 1 }, { weight: -1 }], size, "w")).toThrow(
			/^linear: tensor "w": normalize = undefined and weight of model 0 = 1 and weight of model 1 = -1: weights sum to 0/,
		);
	});

	test("paramValueProblem: absent values fit; numbers must be finite, integral where declared, in range", () => {
		expect(paramValueProblem({ type: "number", description: "" }, undefined)).toBeUndefined();
		expect(paramValueProblem({ type: "number", description: "" }, -Infinity)).toBe("must be finite");
		expect(paramValueProblem({ type: "number", integer: true, description: "" }, 1.5)).toBe("must be an integer");
		expect(paramValueProblem({ type: "number", min: 0, exclusiveMin: true, description: "" }, 0)).toBe("is outside (0, inf)");
		expect(paramValueProblem({ type: "boolean", description: "" }, 1)).toBe("must be true or false");
		expect(paramValueProblem({ type: "enum", values: [true, "inverse_density"], description: "" }, "x")).toBe(
			'must be one of true, "inverse_density"',
		);
	});
});

describe("LM_MERGE_DEBUG=1: the kernels assert what the planner would have refused", () => {
	afterEach(() => {
		vi.unstubAllEnvs();
		vi.resetModules();
	});

	/** planModel and tiesMethod from a module graph loaded with LM_MERGE_DEBUG set to `value`. */
	async function engine(value: string | undefined) {
		vi.stubEnv("LM_MERGE_DEBUG", value);
		vi.resetModules();
		const { planModel, KIND_ZERO } = await import("../../src/methods/task-vector/plan.js");
		const { tiesMethod: method } = await import("../../src/methods/ties.js");
		const { slerpMethod: slerpM } = await import("../../src/methods/slerp.js");
		const { dellaMethod: dellaM } = await import("../../src/methods/della.js");
		return { planModel, KIND_ZERO, method, slerpM, dellaM };
	}

	const where = { method: "ties", tensorName: "w" };
	const key = () => ({ hi: 0, lo: 0 });
	const nameAndKind = (fn: () => unknown) => {
		try {
			fn();
		} catch (e) {
			return [(e as Error).name, (e as { kind?: string }).kind, (e as Error).message];
		}
		return undefined;
	};

	const dellaBadBand = {
		tensorName: "w",
		shape: [N],
		base,
		models: [x],
		params: {},
		modelParams: [{ weight: 1, density: 0.5, epsilon: 0.6 }],
		paramsChecked: true,
	};

	test("on: planModel refuses a TIES density keeping no element; the trusted merge, DELLA's term and slerp refuse too", async () => {
		const { planModel, method, slerpM, dellaM } = await engine("1");
		expect(nameAndKind(() => dellaM.merge(dellaBadBand, ctx))?.[1]).toBe("Assertion");
		const [name, kind, message] =
			nameAndKind(() => planModel("magnitude", 1, { density: 0.05, gamma: 0, epsilon: 0 }, false, N, key, where)) ?? [];
		expect([name, kind]).toEqual(["InternalError", "Assertion"]);
		expect(message).toMatch(/^debug assertion failed: ties tensor "w": density of model 0 = 0\.05: density 0\.05 keeps no element of 16/);
		expect(nameAndKind(() => planModel("random", Number.NaN, { density: 0.5, gamma: 0, epsilon: 0 }, true, N, key, where))?.[2]).toMatch(
			/weight of model 0 = NaN must be finite/,
		);
		expect(nameAndKind(() => planModel("random", 1, { density: 0, gamma: 0, epsilon: 0 }, true, N, key, where))?.[2]).toMatch(
			/density of model 0 = 0 is outside \(0, 1\]/,
		);
		expect(nameAndKind(() => method.merge({ ...tiesInputFor(0.05), paramsChecked: true }, ctx))?.[1]).toBe("Assertion");
		expect(
			nameAndKind(() =>
				slerpM.merge({ tensorName: "w", shape: [N], base, models: [x], params: { t: 2 }, modelParams: [{}], paramsChecked: true }, ctx),
			)?.[1],
		).toBe("Assertion");
	});

	test("off: the same calls return (planModel plans to keep nothing)", async () => {
		const { planModel, KIND_ZERO, method, slerpM, dellaM } = await engine(undefined);
		expect(dellaM.merge(dellaBadBand, ctx)).toHaveLength(N);
		expect(planModel("magnitude", 1, { density: 0.05, gamma: 0, epsilon: 0 }, false, N, key, where).kind).toBe(KIND_ZERO);
		expect(Array.from(method.merge({ ...tiesInputFor(0.05), paramsChecked: true }, ctx))).toEqual(Array.from(base));
		expect(
			slerpM.merge({ tensorName: "w", shape: [N], base, models: [x], params: { t: 2 }, modelParams: [{}], paramsChecked: true }, ctx),
		).toHaveLength(N);
	});
});

function tiesInputFor(density: number) {
	return { tensorName: "w", shape: [N], base, models: [x], params: {}, modelParams: [{ weight: 1, density }] };
}
