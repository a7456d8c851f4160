import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseModelConfig, readModelConfig } from "../../src/model/config.js";

/** The Mistral-7B-v0.1 config.json, as published. */
const MISTRAL_7B = {
	architectures: ["MistralForCausalLM"],
	bos_token_id: 1,
	eos_token_id: 2,
	hidden_act: "silu",
	hidden_size: 4096,
	initializer_range: 0.02,
	intermediate_size: 14336,
	max_position_embeddings: 32768,
	model_type: "mistral",
	num_attention_heads: 32,
	num_hidden_layers: 32,
	num_key_value_heads: 8,
	rms_norm_eps: 1e-5,
	rope_theta: 10000.0,
	sliding_window: 4096,
	tie_word_embeddings: false,
	torch_dtype: "bfloat16",
	transformers_version: "4.34.0.dev0",
	use_cache: true,
	vocab_size: 32000,
};

const MINIMAL = { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 64 };

describe("parseModelConfig", () => {
	test("Mistral-7B", () => {
		const c = parseModelConfig(MISTRAL_7B, "config.json");
		expect(c).toMatchObject({
			architectures: ["MistralForCausalLM"],
			modelType: "mistral",
			hiddenSize: 4096,
			intermediateSize: 14336,
			numHiddenLayers: 32,
			numAttentionHeads: 32,
			numKeyValueHeads: 8,
			headDim: 128,
			vocabSize: 32000,
			rmsNormEps: 1e-5,
			ropeTheta: 10000,
			slidingWindow: 4096,
			tieWordEmbeddings: false,
			torchDtype: "bfloat16",
		});
		expect(c.raw).toBe(MISTRAL_7B);
	});

	test("defaults for absent keys", () => {
		const c = parseModelConfig(MINIMAL, "config.json");
		expect(c.architectures).toEqual([]);
		expect(c.modelType).toBeUndefined();
		expect(c.numKeyValueHeads).toBe(4);
		expect(c.headDim).toBe(4);
		expect(c.ropeTheta).toBe(10000);
		expect(c.rmsNormEps).toBe(1e-6);
		expect(c.slidingWindow).toBeNull();
		expect(c.tieWordEmbeddings).toBe(false);
		expect(c.torchDtype).toBeUndefined();
	});

	test("explicit head_dim, null sliding_window and head_dim, newer `dtype` key, rope_parameters", () => {
		expect(parseModelConfig({ ...MINIMAL, head_dim: 8 }, "c").headDim).toBe(8);
		expect(parseModelConfig({ ...MINIMAL, head_dim: null, sliding_window: null }, "c")).toMatchObject({ headDim: 4, slidingWindow: null });
		expect(parseModelConfig({ ...MINIMAL, dtype: "float16" }, "c").torchDtype).toBe("float16");
		expect(parseModelConfig({ ...MINIMAL, rope_parameters: { rope_theta: 1e6 } }, "c").ropeTheta).toBe(1e6);
	});

	test.each([
		["hidden_size", { ...MINIMAL, hidden_size: undefined }],
		["hidden_size", { ...MINIMAL, hidden_size: "16" }],
		["num_hidden_layers", { ...MINIMAL, num_hidden_layers: 0 }],
		["vocab_size", { ...MINIMAL, vocab_size: 63.5 }],
		["num_key_value_heads", { ...MINIMAL, num_key_value_heads: 3 }],
		["hidden_size", { ...MINIMAL, hidden_size: 18 }],
		["rms_norm_eps", { ...MINIMAL, rms_norm_eps: -1 }],
		["tie_word_embeddings", { ...MINIMAL, tie_word_embeddings: "yes" }],
		["architectures", { ...MINIMAL, architectures: "MistralForCausalLM" }],
		["sliding_window", { ...MINIMAL, sliding_window: -4 }],
		["torch_dtype", { ...MINIMAL, torch_dtype: 16 }],
	])("bad %s → InvalidConfig naming the key", (key, json) => {
		expect(() => parseModelConfig(json, "/m/config.json")).toThrow(
			expect.objectContaining({ kind: "InvalidConfig", location: "/m/config.json" }),
		);
		expect(() => parseModelConfig(json, "/m/config.json")).toThrow(key);
	});

	test("not an object", () => {
		expect(() => parseModelConfig([1], "c")).toThrow(expect.objectContaining({ kind: "InvalidConfig" }));
	});
});

describe("readModelConfig", () => {
	let dir: string;
	beforeAll(async () => {
		dir = await mkdtemp(join(tmpdir(), "lm-merge-config-"));
	});
	afterAll(async () => {
		await rm(dir, { recursive: true, force: true });
	});

	test("undefined without config.json", async () => {
		expect(await readModelConfig(dir)).toBeUndefined();
	});

	test("reads and parses", async () => {
		await writeFile(join(dir, "config.json"), JSON.stringify(MISTRAL_7B));
		expect((await readModelConfig(dir))?.numKeyValueHeads).toBe(8);
	});

	test("bad JSON → InvalidConfig", async () => {
		await writeFile(join(dir, "config.json"), "{ hidden_size: 1 ");
		await expect(readModelConfig(dir)).rejects.toMatchObject({ kind: "InvalidConfig", location: join(dir, "config.json") });
	});
});
