import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { ExecError, PlanError } from "../../src/errors.js";
import type { MergeEvent } from "../../src/exec/events.js";
import { mergeModels, mergeModelsIter } from "../../src/exec/merge-models.js";
import { BUILTIN_METHODS } from "../../src/methods/registry.js";
import { openModel } from "../../src/model/model-dir.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { exists, useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-exec-");
let A: string;
let B: string;
let C: string;

beforeAll(async () => {
	A = path.join(root(), "a");
	B = path.join(root(), "b");
	C = path.join(root(), "c");
	await writeTinyMistral(A, { seed: 1, layers: 2, hidden: 32, intermediate: 48, heads: 4, kvHeads: 2 });
	await writeTinyMistral(B, { seed: 2, base: A, delta: 0.01 });
	await writeTinyMistral(C, { seed: 3, base: A, delta: 0.01 });
});

async function sha(file: string): Promise<string> {
	return createHash("sha256")
		.update(await readFile(file))
		.digest("hex");
}

/** Every tensor of the model in `refDir` has the same raw bytes in the model in `dir`. */
async function expectSameTensorBytes(dir: string, refDir: string): Promise<void> {
	const merged = await openModel(dir);
	const ref = await openModel(refDir);
	for (const n of ref.names()) expect(Buffer.from(await merged.readRaw(n)).equals(Buffer.from(await ref.readRaw(n))), n).toBe(true);
	await merged.close();
	await ref.close();
}

/** A recipe that exercises `method` with parameters valid for it, on base A and models B, C. */
function recipeFor(name: string): string {
	const m = BUILTIN_METHODS.find((x) => x.name === name)!;
	const two = m.maxModels >= 2;
	const models = two ? [B, C] : [B];
	const per: Record<string, string> = {};
	for (const [k, def] of Object.entries(m.modelParams)) {
		if (k === "weight") per[k] = "0.5";
		else if (k === "density") per[k] = "0.6";
		else if (k === "epsilon" && name.startsWith("della")) per[k] = "0.1";
		else if (def.required === true) per[k] = "0.5";
	}
	const global: Record<string, string> = {};
	for (const [k, def] of Object.entries(m.params))
		if (def.required === true) global[k] = k === "t" && name === "nearswap" ? "0.001" : "0.4";
	const entries = models
		.map(
			(p) =>
				`  - model: ${p}\n    parameters: {${Object.entries(per)
					.map(([k, v]) => `${k}: ${v}`)
					.join(", ")}}`,
		)
		.join("\n");
	const base = m.base === "none" ? "" : `base_model: ${A}\n`;
	if (name === "passthrough") return `merge_method: passthrough\nmodels:\n  - model: ${B}\n`;
	return `merge_method: ${name}\n${base}models:\n${entries}\n${
		Object.keys(global).length > 0
			? `parameters: {${Object.entries(global)
					.map(([k, v]) => `${k}: ${v}`)
					.join(", ")}}\n`
			: ""
	}seed: 7\n`;
}

describe("end to end on tiny models", () => {
	test.each(BUILTIN_METHODS.map((m) => m.name))("%s writes a complete, NaN-free checkpoint", async (name) => {
		const out = path.join(root(), `out-${name}`);
		const events: MergeEvent[] = [];
		const result = await mergeModels(parseRecipe(recipeFor(name)), { out, onEvent: (e) => events.push(e) });
		expect(await exists(path.join(out, "model.safetensors"))).toBe(true);
		expect(await exists(path.join(out, "config.json"))).toBe(true);
		expect(await exists(path.join(out, "README.md"))).toBe(true);
		expect(await exists(path.join(out, "merge-recipe.yml"))).toBe(true);
		expect(await exists(path.join(out, "tokenizer.json"))).toBe(true);
		const merged = await openModel(out);
		const input = await openModel(A);
		try {
			expect(merged.names().sort()).toEqual(input.names().sort());
			for (const n of merged.names()) {
				expect(merged.info(n).shape).toEqual(input.info(n).shape);
				const t = await merged.read(n);
				expect(
					t.data.some((x) => Number.isNaN(x)),
					`${name}: NaN in ${n}`,
				).toBe(false);
			}
			expect(merged.metadata().format).toBe("pt");
			expect(merged.metadata().merge_method).toBe(name);
		} finally {
			await merged.close();
			await input.close();
		}
		expect(result.tensors).toBe(events.filter((e) => e.event === "tensor").length);
		expect(events[0]!.event).toBe("planned");
		expect(events.at(-1)!.event).toBe("done");
	});

	test("slerp t = 0 and t = 1 reproduce the endpoints byte for byte", async () => {
		for (const [t, want] of [
			[0, A],
			[1, B],
		] as const) {
			const out = path.join(root(), `slerp-t${t}`);
			await mergeModels(
				parseRecipe(`merge_method: slerp\nbase_model: ${A}\nmodels: [{model: ${A}}, {model: ${B}}]\nparameters: {t: ${t}}\n`),
				{ out },
			);
			await expectSameTensorBytes(out, want);
		}
	});

	test("linear of a model with itself is the model", async () => {
		const out = path.join(root(), "linear-self");
		await mergeModels(
			parseRecipe(`merge_method: linear\nmodels: [{model: ${B}, parameters: {weight: 0.3}}, {model: ${B}, parameters: {weight: 0.7}}]\n`),
			{ out },
		);
		await expectSameTensorBytes(out, B);
	});

	test("same recipe and seed give byte-identical output; another seed changes DARE", async () => {
		const yaml = (seed: number) =>
			`merge_method: dare_ties\nbase_model: ${A}\nmodels: [{model: ${B}, parameters: {weight: 0.5, density: 0.5}}]\nseed: ${seed}\n`;
		await mergeModels(parseRecipe(yaml(1)), { out: path.join(root(), "dare1") });
		await mergeModels(parseRecipe(yaml(1)), { out: path.join(root(), "dare1b") });
		await mergeModels(parseRecipe(yaml(2)), { out: path.join(root(), "dare2") });
		const h = (d: string) => sha(path.join(root(), d, "model.safetensors"));
		expect(await h("dare1")).toBe(await h("dare1b"));
		expect(await h("dare1")).not.toBe(await h("dare2"));
	});

	test("a tiny shard size gives model-0000k-of-0000N shards and an index", async () => {
		const out = path.join(root(), "sharded");
		await mergeModels(
			parseRecipe(`merge_method: linear\nmodels: [{model: ${A}, parameters: {weight: 1}}, {model: ${B}, parameters: {weight: 1}}]\n`),
			{ out, shardSize: 8192 },
		);
		const files = (await readdir(out)).filter((f) => f.endsWith(".safetensors")).sort();
		expect(files.length).toBeGreaterThan(2);
		expect(files[0]).toBe(`model-00001-of-${String(files.length).padStart(5, "0")}.safetensors`);
		const index = JSON.parse(await readFile(path.join(out, "model.safetensors.index.json"), "utf8"));
		const merged = await openModel(out);
		expect(Object.keys(index.weight_map).sort()).toEqual(merged.names().sort());
		expect(index.metadata.total_size).toBe(merged.totalBytes);
		await merged.close();
	});

	test("config.json comes from the base with torch_dtype updated; the model card holds the recipe", async () => {
		const out = path.join(root(), "f32");
		const yaml =
			`merge_method: ties\nbase_model: ${A}\n` + `models: [{model: ${B}, parameters: {weight: 0.5, density: 0.5}}]\nout_dtype: float32\n`;
		await mergeModels(parseRecipe(yaml), { out });
		const config = JSON.parse(await readFile(path.join(out, "config.json"), "utf8"));
		expect(config.torch_dtype).toBe("float32");
		expect(config.architectures).toEqual(["MistralForCausalLM"]);
		const card = await readFile(path.join(out, "README.md"), "utf8");
		expect(card).toContain("merge_method: ties");
		expect(await readFile(path.join(out, "merge-recipe.yml"), "utf8")).toBe(yaml);
		const merged = await openModel(out);
		expect(merged.info("model.embed_tokens.weight").dtype).toBe("F32");
		await merged.close();
	});

	test("an aborted merge leaves neither the output nor a partial folder", async () => {
		const out = path.join(root(), "aborted");
		const controller = new AbortController();
		const gen = mergeModelsIter(
			parseRecipe(`merge_method: linear\nmodels: [{model: ${A}, parameters: {weight: 1}}, {model: ${B}, parameters: {weight: 1}}]\n`),
			{ out, signal: controller.signal },
		);
		await expect(
			(async () => {
				for await (const e of gen) if (e.event === "tensor" && e.index === 3) controller.abort();
			})(),
		).rejects.toSatisfy((e) => e instanceof ExecError && e.kind === "Interrupted");
		expect(await exists(out)).toBe(false);
		expect((await readdir(root())).filter((f) => f.startsWith("aborted"))).toEqual([]);
	});

	test("a consumer that stops iterating early leaves no output", async () => {
		const out = path.join(root(), "stopped");
		const gen = mergeModelsIter(parseRecipe(`merge_method: linear\nmodels: [{model: ${A}, parameters: {weight: 1}}]\n`), { out });
		for await (const e of gen) if (e.event === "tensor") break;
		expect(await exists(out)).toBe(false);
		expect((await readdir(root())).filter((f) => f.startsWith("stopped"))).toEqual([]);
	});

	test("an output folder inside an input is refused; an existing output needs force", async () => {
		const yaml = parseRecipe(`merge_method: linear\nmodels: [{model: ${A}, parameters: {weight: 1}}]\n`);
		await expect(mergeModels(yaml, { out: path.join(A, "merged") })).rejects.toSatisfy(
			(e) => e instanceof PlanError && e.kind === "OutputInsideInput",
		);
		await expect(mergeModels(yaml, { out: root() })).rejects.toSatisfy((e) => e instanceof PlanError && e.kind === "OutputInsideInput");
		const out = path.join(root(), "twice");
		await mergeModels(yaml, { out });
		await expect(mergeModels(yaml, { out })).rejects.toSatisfy((e) => e instanceof PlanError && e.kind === "OutputExists");
		await mergeModels(yaml, { out, force: true });
		expect(await exists(path.join(out, "model.safetensors"))).toBe(true);
	});
});
