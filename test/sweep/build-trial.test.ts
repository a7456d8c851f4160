import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { SweepError } from "../../src/errors.js";
import { buildTrial } from "../../src/sweep/build-trial.js";
import { parseSweep, type SweepSpec } from "../../src/sweep/spec.js";
import { canonicalJson, evalKeyFields, resultKey } from "../../src/sweep/trial-key.js";
import { useTempDir } from "../helpers/fs.js";

const dir = useTempDir("lm-merge-build-trial-");
let spec: SweepSpec;

beforeAll(async () => {
	await mkdir(path.join(dir(), "merges", "models", "a"), { recursive: true });
	await mkdir(path.join(dir(), "merges", "models", "b"), { recursive: true });
	await writeFile(
		path.join(dir(), "merges", "ties.yml"),
		"merge_method: ties\nbase_model: models/a\nmodels:\n  - model: models/b\n    parameters:\n      weight: 1\n      density: 0.5\n" +
			"  - model: org/hub-model\n    parameters:\n      weight: 1\n      density: 0.5\ntokenizer_source: base\n",
	);
	spec = await parseSweep(
		"recipe: merges/ties.yml\ngrid:\n  models[0].parameters.density: [0.3, 0.7]\neval: {data: d.jsonl, seeds: 1}\n",
		path.join(dir(), "s.yml"),
	);
});

describe("canonicalJson and keys", () => {
	test("key order does not matter, values do", () => {
		expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: 2 } })).toBe('{"a":{"c":2,"d":[1,{"y":1,"z":0}]},"b":1}');
		expect(resultKey({ r: { a: 1, b: 2 } }, { data: "/d" })).toBe(resultKey({ r: { b: 2, a: 1 } }, { data: "/d" }));
		expect(resultKey({ r: 1 }, { data: "/d" })).toMatch(/^[0-9a-f]{64}$/);
	});

	test("speed-only settings do not change a key; anything that changes scores does", () => {
		const base = resultKey({ r: 1 }, { data: "/d", seeds: 2 });
		expect(resultKey({ r: 1 }, { data: "/d", seeds: [0, 1], batch: 8, device: "gpu", streaming: true })).toBe(base);
		for (const e of [
			{ seeds: 3 },
			{ limit: 5 },
			{ shots: 0 },
			{ mode: "harness" as const },
			{ tasks: ["medqa"] },
			{ backend: "llama" },
			{ quant: "q8_0" },
			{ data: "/e" },
		]) {
			expect(resultKey({ r: 1 }, { data: "/d", seeds: 2, ...e })).not.toBe(base);
		}
		expect(evalKeyFields({ data: "/d", tasks: ["pubmedqa", "medqa"] }).tasks).toEqual(["medqa", "pubmedqa"]);
	});
});

describe("buildTrial", () => {
	test("puts the values in, makes local model paths absolute, leaves repo ids and keywords alone", () => {
		const t = buildTrial(spec, { "models[0].parameters.density": 0.3 });
		const recipe = parse(t.recipe.text);
		expect(recipe.models[0].parameters.density).toBe(0.3);
		expect(recipe.base_model).toBe(path.join(dir(), "merges", "models", "a"));
		expect(recipe.models[0].model).toBe(path.join(dir(), "merges", "models", "b"));
		expect(recipe.models[1].model).toBe("org/hub-model");
		expect(recipe.tokenizer_source).toBe("base");
		expect(t).toMatchObject({ sweep: "s", params: { "models[0].parameters.density": 0.3 }, objective: "mean_accuracy" });
	});

	test("the same values give the same key; other values another", () => {
		const a = buildTrial(spec, { "models[0].parameters.density": 0.3 });
		expect(buildTrial(spec, { "models[0].parameters.density": 0.3 }).key).toBe(a.key);
		expect(buildTrial(spec, { "models[0].parameters.density": 0.7 }).key).not.toBe(a.key);
	});

	test("a value that breaks the recipe is a Spec error naming the trial", () => {
		const err = (() => {
			try {
				buildTrial(spec, { "models[0].parameters.density": { a: 1 } });
			} catch (e) {
				return e;
			}
			return undefined;
		})();
		expect(err).toBeInstanceOf(SweepError);
		expect((err as SweepError).message).toContain(`models[0].parameters.density={"a":1}`);
	});
});
