import { readdirSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEMO_MODELS, DEMO_RECIPES, writeDemoCache } from "../src/cli/commands/demo.js";
import { buildPlan, closePlan, loadRecipe, type ModelSource, mergeModels, openModel, resolveModelRef } from "../src/index.js";
import { REPO_ROOT } from "./helpers/cli.js";
import { useTempDir } from "./helpers/fs.js";

/** The bundled recipes: every one must load and plan against the stand-ins of the models it names. */
const MERGES_DIR = path.join(REPO_ROOT, "merges");
const RECIPES = readdirSync(MERGES_DIR)
	.filter((f) => f.endsWith(".yml"))
	.sort();

/** The stand-ins have Mistral-7B's 32 layers so the recipes' layer ranges apply unchanged. */
const LAYERS = 32;

/** Embeddings, 9 weights per layer (4 attention, 3 MLP, 2 norms), final norm and lm_head: 291 for Mistral-7B. */
const tensorCount = (layers: number) => 1 + 9 * layers + 2;

/** Layers a recipe's output has when it is not the inputs' count (the frankenmerge stacks 24 + 24). */
const OUTPUT_LAYERS: Record<string, number> = { "passthrough-frankenmerge.yml": 48 };

const root = useTempDir("lm-merge-merges-");

/** Planning and merging see only this cache and no user alias file. */
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
	env = { HF_HUB_CACHE: path.join(root(), "hf-cache"), HOME: path.join(root(), "home") };
	await writeDemoCache(env.HF_HUB_CACHE!);
});

async function openRef(ref: string): Promise<ModelSource> {
	return openModel((await resolveModelRef(ref, { env })).path);
}

test("the demo recipes are bundled", () => {
	for (const f of DEMO_RECIPES) expect(RECIPES).toContain(f);
	expect(RECIPES.length).toBeGreaterThanOrEqual(4);
});

describe.each(RECIPES)("merges/%s", (file) => {
	test("loads and plans against the tiny stand-ins", async () => {
		const recipe = await loadRecipe(path.join(MERGES_DIR, file));
		const plan = await buildPlan(recipe, { env, cwd: root() });
		try {
			const layers = OUTPUT_LAYERS[file] ?? LAYERS;
			expect(plan.numLayers).toBe(layers);
			expect(plan.jobs).toHaveLength(tensorCount(layers));
			expect(new Set(plan.jobs.map((j) => j.output.name)).size).toBe(plan.jobs.length);
			expect(plan.models.every((m) => m.via === "hf-cache")).toBe(true);
			expect(plan.config?.num_hidden_layers).toBe(layers);
		} finally {
			await closePlan(plan);
		}
	});
});

describe.each(DEMO_RECIPES)("merges/%s end to end", (file) => {
	let out: string;
	let merged: ModelSource;
	let instruct: ModelSource;
	let bio: ModelSource;

	beforeAll(async () => {
		out = path.join(root(), "out", file.replace(/\.yml$/, ""));
		await mergeModels(path.join(MERGES_DIR, file), { out, env, cwd: root(), threads: 2 });
		[merged, instruct, bio] = await Promise.all([openModel(out), openRef(DEMO_MODELS.instruct), openRef(DEMO_MODELS.bio)]);
	});

	afterAll(async () => {
		await Promise.all([merged?.close(), instruct?.close(), bio?.close()]);
	});

	test("writes weights, config, tokenizer, model card and recipe", async () => {
		const files = await readdir(out);
		for (const f of [
			"model.safetensors",
			"config.json",
			"README.md",
			"merge-recipe.yml",
			"tokenizer.json",
			"tokenizer_config.json",
			"special_tokens_map.json",
		]) {
			expect(files).toContain(f);
		}
		const text = await readFile(path.join(MERGES_DIR, file), "utf8");
		expect(await readFile(path.join(out, "merge-recipe.yml"), "utf8")).toBe(text);
		expect(await readFile(path.join(out, "README.md"), "utf8")).toContain(text.trimEnd());
		expect(JSON.parse(await readFile(path.join(out, "config.json"), "utf8"))).toMatchObject({
			torch_dtype: "bfloat16",
			num_hidden_layers: LAYERS,
		});
		expect(merged.metadata().format).toBe("pt");
	});

	test("has the complete tensor set, in bf16, with no NaN or Inf", async () => {
		expect(merged.names()).toHaveLength(tensorCount(LAYERS));
		expect(new Set(merged.names())).toEqual(new Set(bio.names()));
		for (const name of merged.names()) {
			expect(merged.info(name).dtype).toBe("BF16");
			expect((await merged.read(name)).data.every(Number.isFinite), name).toBe(true);
		}
	});

	test("one thread writes the same bytes as two", async () => {
		const single = `${out}-1-thread`;
		await mergeModels(path.join(MERGES_DIR, file), { out: single, env, cwd: root(), threads: 1 });
		const [a, b] = await Promise.all([out, single].map((d) => readFile(path.join(d, "model.safetensors"))));
		expect(a!.equals(b!)).toBe(true);
	});

	test("each weight comes from the models the recipe says", async () => {
		const [a, b] = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight"];
		const raw = async (m: ModelSource, n: string) => Buffer.from(await m.readRaw(n));
		if (file === "biomistral-slerp.yml") {
			// The gradients start at t = 0 for attention (the base, Instruct) and t = 1 for the MLP (BioMistral).
			expect((await raw(merged, a!)).equals(await raw(instruct, a!))).toBe(true);
			expect((await raw(merged, b!)).equals(await raw(bio, b!))).toBe(true);
			return;
		}
		// TIES and DARE with one task vector: every entry is Instruct's or BioMistral's, about half of each.
		for (const name of [a!, b!]) {
			const [o, i, x] = await Promise.all([merged.read(name), instruct.read(name), bio.read(name)]);
			let fromBio = 0;
			let differing = 0;
			let firstOther = -1;
			for (let k = 0; k < o.data.length; k++) {
				if (i.data[k] === x.data[k]) continue;
				differing++;
				if (o.data[k] === x.data[k]) fromBio++;
				else if (o.data[k] !== i.data[k] && firstOther < 0) firstOther = k;
			}
			expect(firstOther, `${name}[${firstOther}] is neither model's value`).toBe(-1);
			expect(fromBio / differing).toBeGreaterThan(0.4);
			expect(fromBio / differing).toBeLessThan(0.6);
		}
	});
});
