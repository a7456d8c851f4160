/**
 * The in-place contract (MergeInput.inPlace): with it, kernels may reuse the input arrays for the result; without
 * it, inputs are never modified. Either way the values are the same.
 */
import { describe, expect, test } from "vitest";
import { breadcrumbsTiesMethod } from "../../src/methods/breadcrumbs.js";
import { dareLinearMethod, dareTiesMethod } from "../../src/methods/dare.js";
import { dellaMethod } from "../../src/methods/della.js";
import { disjointArrays, mayWriteInputs } from "../../src/methods/in-place.js";
import { linearMethod } from "../../src/methods/linear.js";
import { passthroughMethod } from "../../src/methods/passthrough.js";
import { slerpMethod } from "../../src/methods/slerp.js";
import { taskArithmeticMethod } from "../../src/methods/task-arithmetic.js";
import { tiesMethod } from "../../src/methods/ties.js";
import type { MergeInput, MergeMethod } from "../../src/methods/types.js";
import { rngKey, uniformAt } from "../../src/tensor/rng.js";
import { float32Bits } from "../helpers/arrays.js";
import { mergeContext } from "../helpers/context.js";

const ctx = mergeContext(3, "w");
const N = 16 * 32;

function data(seed: number, around?: Float32Array): Float32Array {
	const key = rngKey(seed, "in-place", 0);
	return new Float32Array(N).map((_, i) => (around?.[i] ?? 0) + (uniformAt(key, i) - 0.5) * (around ? 0.01 : 0.1));
}

type Params = Record<string, unknown>;

const CASES: [string, MergeMethod, Params, Params[], boolean][] = [
	["linear", linearMethod, { normalize: true }, [{ weight: 0.3 }, { weight: 0.7 }], false],
	["slerp", slerpMethod, { t: 0.4 }, [{}], true],
	["passthrough", passthroughMethod, {}, [{ scale: 0.5 }], false],
	["task_arithmetic", taskArithmeticMethod, { lambda: 1.1 }, [{ weight: 0.6 }, { weight: 0.5 }], true],
	[
		"ties",
		tiesMethod,
		{ normalize: true },
		[
			{ weight: 0.6, density: 0.5 },
			{ weight: 0.5, density: 0.4 },
		],
		true,
	],
	[
		"dare_ties",
		dareTiesMethod,
		{ rescale: true },
		[
			{ weight: 0.6, density: 0.5 },
			{ weight: 0.5, density: 0.4 },
		],
		true,
	],
	["dare_linear", dareLinearMethod, { rescale: "inverse_density" }, [{ weight: 1, density: 0.3 }], true],
	[
		"breadcrumbs_ties",
		breadcrumbsTiesMethod,
		{},
		[
			{ weight: 1, density: 0.6, gamma: 0.05 },
			{ weight: 1, density: 0.5, gamma: 0.1 },
		],
		true,
	],
	[
		"della",
		dellaMethod,
		{},
		[
			{ weight: 1, density: 0.5, epsilon: 0.1 },
			{ weight: 0.5, density: 0.6, epsilon: 0.2 },
		],
		true,
	],
];

describe("in-place merges", () => {
	test.each(CASES)("%s: same values; inputs untouched without inPlace, reused with it", (_, method, params, modelParams, usesBase) => {
		const base = data(1);
		const models = modelParams.map((__, m) => data(m + 2, base));
		const input = (b: Float32Array, ms: Float32Array[], inPlace: boolean): MergeInput<Params, Params> => ({
			tensorName: "w",
			shape: [16, 32],
			base: usesBase ? b : undefined,
			models: ms,
			params,
			modelParams,
			...(inPlace ? { inPlace } : {}),
		});
		const baseBits = float32Bits(base);
		const modelBits = models.map(float32Bits);
		const copied = method.merge(input(base, models, false), ctx);
		expect(float32Bits(base)).toEqual(baseBits);
		models.forEach((m, i) => {
			expect(float32Bits(m)).toEqual(modelBits[i]);
		});
		const b2 = base.slice();
		const m2 = models.map((m) => m.slice());
		const reused = method.merge(input(b2, m2, true), ctx);
		expect(float32Bits(reused)).toEqual(float32Bits(copied));
		expect([b2, ...m2].some((x) => x === reused)).toBe(true);
	});
	test("aliased inputs (one array as base and model) are never overwritten", () => {
		const base = data(1);
		const before = float32Bits(base);
		const out = tiesMethod.merge(
			{
				tensorName: "w",
				shape: [N],
				base,
				models: [base, data(2, base)],
				params: {},
				modelParams: [
					{ weight: 1, density: 0.5 },
					{ weight: 1, density: 0.5 },
				],
				inPlace: true,
			},
			ctx,
		);
		expect(float32Bits(base)).toEqual(before);
		expect(out).not.toBe(base);
	});
});

describe("disjointArrays / mayWriteInputs", () => {
	const buffer = new ArrayBuffer(64);
	const a = new Float32Array(buffer, 0, 4);
	const b = new Float32Array(buffer, 16, 4);
	const overlapping = new Float32Array(buffer, 12, 4);
	test("separate ranges of one buffer are disjoint, overlapping ones are not", () => {
		expect(disjointArrays([a, b, new Float32Array(4)])).toBe(true);
		expect(disjointArrays([a, overlapping])).toBe(false);
		expect(disjointArrays([a, a])).toBe(false);
	});
	test("only inPlace with disjoint arrays allows writing", () => {
		expect(mayWriteInputs({ base: a, models: [b] })).toBe(false);
		expect(mayWriteInputs({ base: a, models: [b], inPlace: true })).toBe(true);
		expect(mayWriteInputs({ base: undefined, models: [a, overlapping], inPlace: true })).toBe(false);
	});
});
