import { describe, expect, it } from "vitest";
import { parseRecipe } from "../../src/recipe/load.js";
import { filtersOf, layerT, lookupParam, NON_LAYER_T, resolveSetting, settingLeaves } from "../../src/recipe/params.js";
import type { ParamSetting, ParamTable } from "../../src/recipe/schema.js";
import { SPEC_CONFIGS } from "../helpers/recipes.js";

const ATTN = [0, 0.5, 0.3, 0.7, 1];
const MLP = [1, 0.5, 0.7, 0.3, 0];
const BIO_T: ParamSetting = [{ filter: "self_attn", value: ATTN }, { filter: "mlp", value: MLP }, { value: 0.5 }];

const Q = "model.layers.8.self_attn.q_proj.weight";
const UP = "model.layers.8.mlp.up_proj.weight";

function table(entries: Record<string, ParamSetting>, owner: string): ParamTable {
	const out: ParamTable = {};
	for (const [k, setting] of Object.entries(entries)) out[k] = { setting, path: `${owner}parameters.${k}` };
	return out;
}

describe("resolveSetting: gradients (hand-computed, t = i/31)", () => {
	// s = t·4; i0 = ⌊s⌋, f = s − i0, value = (1 − f)·v[i0] + f·v[i0 + 1]
	it.each([
		[0, ATTN, 0],
		[1, ATTN, 2 / 31], // s = 4/31: (27/31)·0 + (4/31)·0.5
		[8, ATTN, 15.3 / 31], // s = 1 + 1/31: (30/31)·0.5 + (1/31)·0.3
		[16, ATTN, 10.1 / 31], // s = 2 + 2/31: (29/31)·0.3 + (2/31)·0.7
		[23, ATTN, 21.3 / 31], // s = 2 + 30/31: (1/31)·0.3 + (30/31)·0.7
		[24, ATTN, 22.6 / 31], // s = 3 + 3/31: (28/31)·0.7 + (3/31)·1
		[31, ATTN, 1],
		[8, MLP, 15.7 / 31], // (30/31)·0.5 + (1/31)·0.7
		[31, MLP, 0],
	])("layer %i of 32 on %j → %f", (i, list, expected) => {
		expect(resolveSetting(list, Q, layerT(i, 32))).toBeCloseTo(expected, 12);
	});

	it("hits the anchors exactly, interpolates between them, one-element lists are constant", () => {
		expect(resolveSetting(ATTN, Q, 0.25)).toBe(0.5);
		expect(resolveSetting(ATTN, Q, 0.5)).toBe(0.3);
		expect(resolveSetting(ATTN, Q, 0.75)).toBe(0.7);
		expect(resolveSetting([2, 4], Q, 0.25)).toBe(2.5);
		expect(resolveSetting([-1, 1], Q, 0.5)).toBe(0);
		for (const t of [0, 0.3, 1]) expect(resolveSetting([0.42], Q, t)).toBe(0.42);
	});

	it("scalars are returned as they are", () => {
		expect(resolveSetting(0.5, Q, 0.7)).toBe(0.5);
		expect(resolveSetting(-2, Q, 0.7)).toBe(-2);
		expect(resolveSetting(true, Q, 0.7)).toBe(true);
		expect(resolveSetting("inverse_density", Q, 0.7)).toBe("inverse_density");
	});

	it("boolean and string lists are step functions: element ⌊t·(K−1)⌋", () => {
		expect(resolveSetting([true, false], Q, 0)).toBe(true);
		expect(resolveSetting([true, false], Q, 0.99)).toBe(true);
		expect(resolveSetting([true, false], Q, 1)).toBe(false);
		expect(resolveSetting([true, false, true], Q, 0.49)).toBe(true);
		expect(resolveSetting([true, false, true], Q, 0.5)).toBe(false);
		expect(resolveSetting(["a", "b", "c"], Q, 1)).toBe("c");
	});

	it("property: a ramp gradient resolves to t; values stay between neighbouring anchors", () => {
		const ramp = Array.from({ length: 11 }, (_, i) => i / 10);
		const zigzag = [0.2, -1, 3, 0.5, 0.5, 2];
		for (let i = 0; i <= 40; i++) {
			const t = i / 40;
			expect(resolveSetting(ramp, Q, t)).toBeCloseTo(t, 12);
			const v = resolveSetting(zigzag, Q, t) as number;
			const s = t * (zigzag.length - 1);
			const lo = zigzag[Math.floor(s)]!;
			const hi = zigzag[Math.min(zigzag.length - 1, Math.floor(s) + 1)]!;
			expect(v).toBeGreaterThanOrEqual(Math.min(lo, hi) - 1e-12);
			expect(v).toBeLessThanOrEqual(Math.max(lo, hi) + 1e-12);
		}
	});

	it("rejects t outside [0, 1]", () => {
		expect(() => resolveSetting(ATTN, Q, 1.5)).toThrow(RangeError);
		expect(() => resolveSetting(ATTN, Q, Number.NaN)).toThrow(RangeError);
	});
});

describe("resolveSetting: filter lists", () => {
	it.each([
		[Q, layerT(8, 32), 15.3 / 31],
		[UP, layerT(8, 32), 15.7 / 31],
		["model.layers.8.input_layernorm.weight", layerT(8, 32), 0.5],
		["model.embed_tokens.weight", NON_LAYER_T, 0.5],
		["model.norm.weight", NON_LAYER_T, 0.5],
		["lm_head.weight", NON_LAYER_T, 0.5],
	])("BioMistral t for %s", (name, t, expected) => {
		expect(resolveSetting(BIO_T, name, t)).toBeCloseTo(expected, 12);
	});

	it("the first matching entry wins; '*' and null match everything", () => {
		const first: ParamSetting = [
			{ filter: "proj", value: 1 },
			{ filter: "q_proj", value: 2 },
		];
		expect(resolveSetting(first, Q, 0)).toBe(1);
		expect(resolveSetting([{ filter: "*", value: 3 }, { value: 4 }], Q, 0)).toBe(3);
		expect(resolveSetting([{ filter: null, value: 5 }], Q, 0)).toBe(5);
	});

	it("nothing matches → undefined; an empty tensor name matches no substring filter", () => {
		expect(resolveSetting([{ filter: "mlp", value: 1 }], Q, 0)).toBeUndefined();
		expect(resolveSetting([{ filter: "mlp", value: 1 }], "", 0)).toBeUndefined();
		expect(resolveSetting([{ filter: "mlp", value: 1 }, { value: 2 }], "", 0)).toBe(2);
	});

	it("a matched entry's gradient is evaluated at the same t", () => {
		expect(resolveSetting([{ filter: "mlp", value: [0, 1] }], UP, 0.25)).toBe(0.25);
		expect(resolveSetting([{ filter: "mlp", value: [false, true] }], UP, 1)).toBe(true);
	});
});

describe("layerT", () => {
	it.each([
		[0, 32, 0],
		[31, 32, 1],
		[5, 11, 0.5],
		[0, 1, 1],
	])("layer %i of %i → %f", (i, n, t) => {
		expect(layerT(i, n)).toBe(t);
	});

	it("rejects a layer outside its slice", () => {
		expect(() => layerT(32, 32)).toThrow(RangeError);
		expect(() => layerT(0, 0)).toThrow(RangeError);
		expect(() => layerT(-1, 4)).toThrow(RangeError);
	});
});

describe("lookupParam: mergekit precedence", () => {
	const sourceParams = table({ weight: 0.3, density: [{ filter: "mlp", value: 0.9 }] }, "models[1].");
	const sliceParams = table({ weight: 0.6, t: 0.2, density: 0.7 }, "slices[0].");
	const topParams = table({ weight: 1, t: 0.9, density: [{ filter: "self_attn", value: 0.5 }], lambda: [1, 2] }, "");
	const all = { sourceParams, sliceParams, topParams };

	it.each([
		// name, perModel, tensor, t, value, path
		["weight", true, Q, 0, 0.3, "models[1].parameters.weight"],
		["weight", false, Q, 0, 0.6, "slices[0].parameters.weight"],
		["density", true, UP, 0, 0.9, "models[1].parameters.density[0].value"],
		["density", true, Q, 0, 0.7, "slices[0].parameters.density"],
		["t", false, Q, 0, 0.2, "slices[0].parameters.t"],
		["lambda", false, Q, 0.5, 1.5, "parameters.lambda"],
		["lambda", true, Q, 1, 2, "parameters.lambda"],
	] as const)("%s (perModel %s) on %s at t=%f → %f from %s", (name, perModel, tensor, t, value, path) => {
		expect(lookupParam(name, all, perModel, tensor, t)).toEqual({ value, path });
	});

	it("without a slice level, the top level answers; a non-matching filter falls through", () => {
		expect(lookupParam("t", { topParams }, false, Q, 0)).toEqual({ value: 0.9, path: "parameters.t" });
		expect(lookupParam("density", { sourceParams, topParams }, true, Q, 0)).toEqual({
			value: 0.5,
			path: "parameters.density[0].value",
		});
		expect(lookupParam("density", { sourceParams, topParams }, true, "model.norm.weight", 0)).toBeUndefined();
	});

	it("a global parameter never reads the source level", () => {
		expect(lookupParam("weight", { sourceParams, topParams }, false, Q, 0)).toEqual({ value: 1, path: "parameters.weight" });
	});

	it("missing names (including Object.prototype's) are undefined", () => {
		expect(lookupParam("gamma", all, true, Q, 0)).toBeUndefined();
		expect(lookupParam("constructor", { topParams: {} }, false, Q, 0)).toBeUndefined();
		expect(lookupParam("toString", { topParams: {} }, true, Q, 0)).toBeUndefined();
	});

	it("works on a parsed recipe: BioMistral SLERP t per layer and for non-layer tensors", () => {
		const r = parseRecipe(SPEC_CONFIGS["biomistral-slerp"]!);
		const levels = { sliceParams: r.slices![0]!.parameters, topParams: r.parameters };
		expect(lookupParam("t", levels, false, Q, layerT(8, 32))!.value).toBeCloseTo(15.3 / 31, 12);
		expect(lookupParam("t", levels, false, Q, layerT(8, 32))!.path).toBe("parameters.t[0].value");
		expect(lookupParam("t", levels, false, "lm_head.weight", NON_LAYER_T)).toEqual({ value: 0.5, path: "parameters.t[2].value" });
	});
});

describe("filtersOf and settingLeaves", () => {
	it("lists substring filters with their paths, leaving out '*' and null", () => {
		expect(filtersOf(BIO_T, "parameters.t")).toEqual([
			{ filter: "self_attn", path: "parameters.t[0].filter" },
			{ filter: "mlp", path: "parameters.t[1].filter" },
		]);
		expect(
			filtersOf(
				[
					{ filter: "*", value: 1 },
					{ filter: null, value: 2 },
				],
				"p",
			),
		).toEqual([]);
		expect(filtersOf([0, 1], "p")).toEqual([]);
		expect(filtersOf(0.5)).toEqual([]);
	});

	it("lists every scalar with its path", () => {
		expect(settingLeaves([1, 0.7, 0.1], "models[0].parameters.density")).toEqual([
			{ value: 1, path: "models[0].parameters.density[0]" },
			{ value: 0.7, path: "models[0].parameters.density[1]" },
			{ value: 0.1, path: "models[0].parameters.density[2]" },
		]);
		expect(settingLeaves(0.5, "parameters.weight")).toEqual([{ value: 0.5, path: "parameters.weight" }]);
		const leaves = settingLeaves(BIO_T, "parameters.t");
		expect(leaves).toHaveLength(11);
		expect(leaves[7]).toEqual({ value: 0.7, path: "parameters.t[1].value[2]" });
		expect(leaves[10]).toEqual({ value: 0.5, path: "parameters.t[2].value" });
	});
});

describe("long gradients", () => {
	it("a 10,000-value gradient resolves for 300 tensors × 3 parameters (O(1) per call)", () => {
		const K = 10_000;
		const ramp = Array.from({ length: K }, (_, j) => j / (K - 1));
		const topParams = table({ t: ramp, weight: [{ filter: "mlp", value: ramp }, { value: 1 }], density: ramp }, "");
		const n = 300;
		for (let i = 0; i < n; i++) {
			const t = layerT(i, n);
			const name = `model.layers.${i}.${i % 2 === 0 ? "mlp" : "self_attn"}.weight`;
			expect(lookupParam("t", { topParams }, false, name, t)!.value).toBeCloseTo(t, 9);
			expect(lookupParam("weight", { topParams }, true, name, t)!.value).toBeCloseTo(i % 2 === 0 ? t : 1, 9);
			expect(lookupParam("density", { topParams }, true, name, t)!.value).toBeCloseTo(t, 9);
		}
	});
});
