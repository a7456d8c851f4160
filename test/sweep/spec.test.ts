import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { SweepError } from "../../src/errors.js";
import { loadSweep, parseSweep } from "../../src/sweep/spec.js";
import { useTempDir } from "../helpers/fs.js";

const dir = useTempDir("lm-merge-sweep-spec-");
const RECIPE = "merge_method: slerp\nbase_model: a\nmodels:\n  - model: a\n  - model: b\nparameters:\n  t: 0.5\n";

beforeAll(async () => {
	await mkdir(path.join(dir(), "merges"), { recursive: true });
	await writeFile(path.join(dir(), "merges", "slerp.yml"), RECIPE);
});

async function parse(yaml: string) {
	return parseSweep(yaml, path.join(dir(), "sweeps", "s.yml"));
}

async function specError(yaml: string): Promise<SweepError> {
	const err = await parse(yaml).then(
		() => undefined,
		(e: unknown) => e,
	);
	expect(err).toBeInstanceOf(SweepError);
	return err as SweepError;
}

describe("parseSweep", () => {
	test("a grid sweep: paths resolve against the sweep file's folder, defaults filled in", async () => {
		const spec = await parse(
			"recipe: ../merges/slerp.yml\ngrid:\n  parameters.t: [0.3, 0.5, 0.7]\n" +
				"eval:\n  data: ../data/medqa.jsonl\n  tasks: medqa\n  shots: 3\n  seeds: 1\n  shots-from: train.jsonl\n",
		);
		expect(spec.name).toBe("s");
		expect(spec.recipe.file).toBe(path.join(dir(), "merges", "slerp.yml"));
		expect(spec.recipe.text).toBe(RECIPE);
		expect(spec.strategy).toEqual({
			kind: "grid",
			axes: [{ path: "parameters.t", segments: ["parameters", "t"], values: [0.3, 0.5, 0.7] }],
		});
		expect(spec.eval).toEqual({
			data: path.join(dir(), "data", "medqa.jsonl"),
			tasks: ["medqa"],
			shots: 3,
			seeds: 1,
			shotsFrom: path.join(dir(), "sweeps", "train.jsonl"),
		});
		expect(spec.objective.name).toBe("mean_accuracy");
		expect(spec.merge).toEqual({});
	});

	test("random and search sweeps with their defaults", async () => {
		const random = await parse(
			"name: r\nrecipe: ../merges/slerp.yml\nrandom:\n  n: 4\n  space:\n" +
				"    parameters.t: {min: 0.1, max: 0.9}\n    models[1].parameters.weight: [0.2, 0.4]\n" +
				"eval: {data: d.jsonl}\nobjective: accuracy:medqa\n",
		);
		expect(random.name).toBe("r");
		expect(random.strategy).toMatchObject({ kind: "random", n: 4, seed: 0 });
		expect(random.objective.name).toBe("accuracy:medqa");
		const search = await parse(
			"recipe: ../merges/slerp.yml\nsearch:\n  method: cmaes\n  budget: 12\n  space:\n" +
				"    parameters.t: {min: 0.01, max: 1, log: true, step: 0.01}\neval: {data: d.jsonl}\nmerge: {threads: 2}\n",
		);
		expect(search.strategy).toMatchObject({ kind: "search", method: "cmaes", budget: 12, seed: 0, sigma: 0.3 });
		expect(search.merge).toEqual({ threads: 2 });
	});

	test.each([
		["no strategy", "recipe: ../merges/slerp.yml\neval: {data: d}\n", "grid, random or search"],
		[
			"two strategies",
			"recipe: ../merges/slerp.yml\ngrid: {parameters.t: [1]}\nrandom: {n: 1, space: {parameters.t: [1]}}\neval: {data: d}\n",
			"not grid and random",
		],
		["unknown key", "recipe: ../merges/slerp.yml\ngrid: {parameters.t: [1]}\neval: {data: d}\nobjectve: x\n", "objectve"],
		["unknown eval option", "recipe: ../merges/slerp.yml\ngrid: {parameters.t: [1]}\neval: {data: d, shotz: 3}\n", "shotz"],
		["negative shots", "recipe: ../merges/slerp.yml\ngrid: {parameters.t: [1]}\neval: {data: d, shots: -1}\n", "eval.shots"],
		["empty grid axis", "recipe: ../merges/slerp.yml\ngrid: {parameters.t: []}\neval: {data: d}\n", "grid.parameters.t"],
		["bad path", "recipe: ../merges/slerp.yml\ngrid: {'parameters..t': [1]}\neval: {data: d}\n", "not a path"],
		[
			"min above max",
			"recipe: ../merges/slerp.yml\nrandom: {n: 2, space: {parameters.t: {min: 1, max: 0}}}\neval: {data: d}\n",
			"min must be below max",
		],
		[
			"log range from 0",
			"recipe: ../merges/slerp.yml\nsearch: {method: cmaes, budget: 6, space: {parameters.t: {min: 0, max: 1, log: true}}}\neval: {data: d}\n",
			"log ranges",
		],
		[
			"unknown search method",
			"recipe: ../merges/slerp.yml\nsearch: {method: tpe, budget: 6, space: {parameters.t: {min: 0, max: 1}}}\neval: {data: d}\n",
			"search.method",
		],
		["unknown objective", "recipe: ../merges/slerp.yml\ngrid: {parameters.t: [1]}\neval: {data: d}\nobjective: best\n", "objective best"],
		[
			"unknown objective task",
			"recipe: ../merges/slerp.yml\ngrid: {parameters.t: [1]}\neval: {data: d}\nobjective: accuracy:medqb\n",
			"unknown task medqb",
		],
		["not YAML", "recipe: [\n", "not valid YAML"],
	])("%s is a Spec error naming the problem", async (_, yaml, needle) => {
		const err = await specError(yaml);
		expect(err.kind).toBe("Spec");
		expect(err.message).toContain(needle);
		expect(err.message).toContain("s.yml");
	});

	test("a missing recipe is NotFound; an invalid base recipe is a RecipeError", async () => {
		expect((await specError("recipe: nope.yml\ngrid: {parameters.t: [1]}\neval: {data: d}\n")).kind).toBe("NotFound");
		await writeFile(path.join(dir(), "merges", "bad.yml"), "merge_method: slerp\n");
		await expect(parse("recipe: ../merges/bad.yml\ngrid: {parameters.t: [1]}\neval: {data: d}\n")).rejects.toMatchObject({
			name: "RecipeError",
		});
	});

	test("loadSweep reads the file; a missing file is NotFound", async () => {
		await mkdir(path.join(dir(), "sweeps"), { recursive: true });
		const file = path.join(dir(), "sweeps", "ok.yml");
		await writeFile(file, "recipe: ../merges/slerp.yml\ngrid: {parameters.t: [1]}\neval: {data: d}\n");
		expect((await loadSweep(file)).name).toBe("ok");
		await expect(loadSweep(path.join(dir(), "missing.yml"))).rejects.toMatchObject({ kind: "NotFound" });
	});
});
