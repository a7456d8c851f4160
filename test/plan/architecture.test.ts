import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, test } from "vitest";
import { defineArchitecture, embedding, layerTemplates, weightAndBias } from "../../src/arch/define.js";
import { mergeModels } from "../../src/exec/merge-models.js";
import { ShardedWriter } from "../../src/io/sharded-writer.js";
import { buildPlan, closePlan } from "../../src/plan/plan.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyArchitecture, writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-plan-arch-");

/** A BLOOM-shaped model: a family lm-merge has no definition for (the fixture writer only needs a spec object). */
const BLOOMISH = defineArchitecture({
	name: "bloomish",
	architectures: ["BloomForCausalLM"],
	modelTypes: ["bloom"],
	layerCountKeys: ["n_layer"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: true,
	preWeights: [embedding("transformer.word_embeddings.weight"), ...weightAndBias("transformer.word_embeddings_layernorm")],
	layerWeights: layerTemplates("transformer.h", [
		...weightAndBias("input_layernorm"),
		...weightAndBias("self_attention.query_key_value"),
		...weightAndBias("mlp.dense_4h_to_h"),
	]),
	postWeights: weightAndBias("transformer.ln_f"),
});

const franken = (a: string, b: string) =>
	parseRecipe(
		`merge_method: passthrough\nslices:\n  - sources:\n      - model: ${a}\n        layer_range: [0, 2]\n` +
			`  - sources:\n      - model: ${b}\n        layer_range: [0, 1]\n`,
	);

test("an unknown family merges by tensor names, with a warning, and its layer-count key is updated", async () => {
	const a = join(root(), "bloom-a");
	const b = join(root(), "bloom-b");
	await writeTinyArchitecture(a, BLOOMISH, { seed: 1 });
	await writeTinyArchitecture(b, BLOOMISH, { seed: 2 });
	const out = join(root(), "bloom-out");
	const result = await mergeModels(franken(a, b), { out, threads: 1 });
	expect(result.warnings.some((w) => w.includes('unknown architecture "BloomForCausalLM"') && w.includes("n_layer"))).toBe(true);
	const config = JSON.parse(await readFile(join(out, "config.json"), "utf8")) as Record<string, unknown>;
	expect(config.n_layer).toBe(3);
	expect(result.tensors).toBe(3 + 3 * 6 + 2);
});

test("a known family's checkpoint that lacks a listed tensor is merged by names, with a warning naming it", async () => {
	const a = join(root(), "odd-llama");
	const names = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.norm.weight"];
	const writer = await ShardedWriter.create(
		a,
		names.map((name) => ({ name, dtype: "F32" as const, shape: [4, 4] })),
		{ maxShardBytes: 1e9, metadata: {}, force: false },
	);
	for (const n of names) await writer.writeTensor(n, new Float32Array(16).fill(1));
	await writer.writeFile(
		"config.json",
		JSON.stringify({
			architectures: ["LlamaForCausalLM"],
			model_type: "llama",
			num_hidden_layers: 1,
			hidden_size: 4,
			intermediate_size: 8,
			num_attention_heads: 1,
			vocab_size: 4,
		}),
	);
	await writer.commit();
	const plan = await buildPlan(parseRecipe(`merge_method: linear\nmodels:\n  - model: ${a}\n    parameters: {weight: 1}\n`));
	try {
		const warning = plan.warnings.find((w) => w.includes("lacks 8 tensor(s) its definition lists"));
		expect(warning).toContain("model.layers.0.input_layernorm.weight");
		expect(warning).toContain("(llama)");
		expect(plan.jobs.map((j) => j.output.name)).toEqual(names);
	} finally {
		await closePlan(plan);
	}
});

test("a Mistral frankenmerge reports no architecture warning and counts its layers", async () => {
	const a = join(root(), "m");
	await writeTinyMistral(a, { layers: 2, tokenizer: false });
	const plan = await buildPlan(franken(a, a));
	try {
		expect(plan.warnings.filter((w) => !w.includes("has no tokenizer"))).toEqual([]); // the test models carry no tokenizer
		expect(plan.config?.num_hidden_layers).toBe(3);
	} finally {
		await closePlan(plan);
	}
});
