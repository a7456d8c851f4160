/**
 * Every architecture definition against a hand-written list of the tensor names its transformers model holds (one
 * layer, so each list stays readable), through a tiny checkpoint generated from the definition.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { detectArchitecture } from "../../src/arch/detect.js";
import { ARCHITECTURES, architectureByName } from "../../src/arch/registry.js";
import { resolveArchitecture } from "../../src/arch/resolve.js";
import { openModel } from "../../src/model/model-dir.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyArchitecture } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-families-");

const EMBED = "model.embed_tokens.weight";
const HEAD = "lm_head.weight";
const NORM = "model.norm.weight";
const L = "model.layers.0.";
const wb = (m: string) => [`${m}.weight`, `${m}.bias`];
const LLAMA_LAYER = [
	`${L}input_layernorm.weight`,
	`${L}self_attn.q_proj.weight`,
	`${L}self_attn.k_proj.weight`,
	`${L}self_attn.v_proj.weight`,
	`${L}self_attn.o_proj.weight`,
	`${L}post_attention_layernorm.weight`,
	`${L}mlp.gate_proj.weight`,
	`${L}mlp.up_proj.weight`,
	`${L}mlp.down_proj.weight`,
];

interface Case {
	family: string;
	architecture: string;
	modelType: string;
	config?: Record<string, unknown>;
	names: string[];
}

/** The tensors of each family's 1-layer model (untied unless the family ties by default), as transformers names them. */
const CASES: Case[] = [
	{ family: "llama", architecture: "LlamaForCausalLM", modelType: "llama", names: [EMBED, ...LLAMA_LAYER, NORM, HEAD] },
	{
		family: "llama",
		architecture: "LlamaForCausalLM",
		modelType: "llama",
		config: { attention_bias: true, mlp_bias: true },
		names: [
			EMBED,
			...LLAMA_LAYER,
			...["q", "k", "v", "o"].map((p) => `${L}self_attn.${p}_proj.bias`),
			...["gate", "up", "down"].map((p) => `${L}mlp.${p}_proj.bias`),
			NORM,
			HEAD,
		],
	},
	{ family: "mistral", architecture: "MistralForCausalLM", modelType: "mistral", names: [EMBED, ...LLAMA_LAYER, NORM, HEAD] },
	{
		family: "mixtral",
		architecture: "MixtralForCausalLM",
		modelType: "mixtral",
		config: { num_local_experts: 2 },
		names: [
			EMBED,
			...LLAMA_LAYER.slice(0, 6),
			`${L}block_sparse_moe.gate.weight`,
			...[0, 1].flatMap((e) => ["w1", "w2", "w3"].map((w) => `${L}block_sparse_moe.experts.${e}.${w}.weight`)),
			NORM,
			HEAD,
		],
	},
	{
		family: "qwen2",
		architecture: "Qwen2ForCausalLM",
		modelType: "qwen2",
		names: [EMBED, ...LLAMA_LAYER, `${L}self_attn.q_proj.bias`, `${L}self_attn.k_proj.bias`, `${L}self_attn.v_proj.bias`, NORM, HEAD],
	},
	{
		family: "qwen3",
		architecture: "Qwen3ForCausalLM",
		modelType: "qwen3",
		names: [EMBED, ...LLAMA_LAYER, `${L}self_attn.q_norm.weight`, `${L}self_attn.k_norm.weight`, NORM, HEAD],
	},
	{ family: "gemma", architecture: "GemmaForCausalLM", modelType: "gemma", names: [EMBED, ...LLAMA_LAYER, NORM] },
	{
		family: "gemma2",
		architecture: "Gemma2ForCausalLM",
		modelType: "gemma2",
		names: [EMBED, ...LLAMA_LAYER, `${L}pre_feedforward_layernorm.weight`, `${L}post_feedforward_layernorm.weight`, NORM],
	},
	{
		family: "gemma3",
		architecture: "Gemma3ForCausalLM",
		modelType: "gemma3_text",
		names: [
			EMBED,
			...LLAMA_LAYER,
			`${L}self_attn.q_norm.weight`,
			`${L}self_attn.k_norm.weight`,
			`${L}pre_feedforward_layernorm.weight`,
			`${L}post_feedforward_layernorm.weight`,
			NORM,
		],
	},
	{
		family: "phi3",
		architecture: "Phi3ForCausalLM",
		modelType: "phi3",
		names: [
			EMBED,
			`${L}input_layernorm.weight`,
			`${L}self_attn.qkv_proj.weight`,
			`${L}self_attn.o_proj.weight`,
			`${L}post_attention_layernorm.weight`,
			`${L}mlp.gate_up_proj.weight`,
			`${L}mlp.down_proj.weight`,
			NORM,
			HEAD,
		],
	},
	{
		family: "phi",
		architecture: "PhiForCausalLM",
		modelType: "phi",
		names: [
			EMBED,
			...["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.dense", "mlp.fc1", "mlp.fc2", "input_layernorm"].flatMap(
				(m) => wb(`${L}${m}`),
			),
			...wb("model.final_layernorm"),
			...wb("lm_head"),
		],
	},
	{
		family: "phi",
		architecture: "PhiForCausalLM",
		modelType: "phi",
		config: { qk_layernorm: true },
		names: [
			EMBED,
			...[
				"self_attn.q_proj",
				"self_attn.k_proj",
				"self_attn.v_proj",
				"self_attn.dense",
				"self_attn.q_layernorm",
				"self_attn.k_layernorm",
				"mlp.fc1",
				"mlp.fc2",
				"input_layernorm",
			].flatMap((m) => wb(`${L}${m}`)),
			...wb("model.final_layernorm"),
			...wb("lm_head"),
		],
	},
	{
		family: "gpt2",
		architecture: "GPT2LMHeadModel",
		modelType: "gpt2",
		names: [
			"transformer.wte.weight",
			"transformer.wpe.weight",
			...["ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"].flatMap((m) => wb(`transformer.h.0.${m}`)),
			...wb("transformer.ln_f"),
		],
	},
	{
		family: "gpt_neox",
		architecture: "GPTNeoXForCausalLM",
		modelType: "gpt_neox",
		names: [
			"gpt_neox.embed_in.weight",
			...[
				"input_layernorm",
				"post_attention_layernorm",
				"attention.query_key_value",
				"attention.dense",
				"mlp.dense_h_to_4h",
				"mlp.dense_4h_to_h",
			].flatMap((m) => wb(`gpt_neox.layers.0.${m}`)),
			...wb("gpt_neox.final_layer_norm"),
			"embed_out.weight",
		],
	},
	{
		family: "gptj",
		architecture: "GPTJForCausalLM",
		modelType: "gptj",
		names: [
			"transformer.wte.weight",
			...wb("transformer.h.0.ln_1"),
			...["k_proj", "v_proj", "q_proj", "out_proj"].map((p) => `transformer.h.0.attn.${p}.weight`),
			...wb("transformer.h.0.mlp.fc_in"),
			...wb("transformer.h.0.mlp.fc_out"),
			...wb("transformer.ln_f"),
			...wb("lm_head"),
		],
	},
	{
		family: "falcon",
		architecture: "FalconForCausalLM",
		modelType: "falcon",
		names: [
			"transformer.word_embeddings.weight",
			...wb("transformer.h.0.input_layernorm"),
			...["self_attention.query_key_value", "self_attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h"].map(
				(m) => `transformer.h.0.${m}.weight`,
			),
			...wb("transformer.ln_f"),
		],
	},
	{
		family: "falcon",
		architecture: "FalconForCausalLM",
		modelType: "falcon",
		config: { new_decoder_architecture: true, bias: true },
		names: [
			"transformer.word_embeddings.weight",
			...wb("transformer.h.0.ln_attn"),
			...wb("transformer.h.0.ln_mlp"),
			...["self_attention.query_key_value", "self_attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h"].flatMap((m) =>
				wb(`transformer.h.0.${m}`),
			),
			...wb("transformer.ln_f"),
		],
	},
	{
		family: "falcon",
		architecture: "FalconForCausalLM",
		modelType: "falcon",
		config: { parallel_attn: false, n_layer: 1 },
		names: [
			"transformer.word_embeddings.weight",
			...wb("transformer.h.0.input_layernorm"),
			...wb("transformer.h.0.post_attention_layernorm"),
			...["self_attention.query_key_value", "self_attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h"].map(
				(m) => `transformer.h.0.${m}.weight`,
			),
			...wb("transformer.ln_f"),
		],
	},
	{
		family: "falcon-refinedweb",
		architecture: "RWForCausalLM",
		modelType: "RefinedWeb",
		names: [
			"transformer.word_embeddings.weight",
			...wb("transformer.h.0.ln_attn"),
			...wb("transformer.h.0.ln_mlp"),
			...["self_attention.query_key_value", "self_attention.dense", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h"].map(
				(m) => `transformer.h.0.${m}.weight`,
			),
			...wb("transformer.ln_f"),
		],
	},
	{
		family: "stablelm",
		architecture: "StableLmForCausalLM",
		modelType: "stablelm",
		names: [
			EMBED,
			...["q", "k", "v", "o"].map((p) => `${L}self_attn.${p}_proj.weight`),
			...["gate", "up", "down"].map((p) => `${L}mlp.${p}_proj.weight`),
			...wb(`${L}input_layernorm`),
			...wb(`${L}post_attention_layernorm`),
			...wb("model.norm"),
			HEAD,
		],
	},
	{
		family: "stablelm",
		architecture: "StableLmForCausalLM",
		modelType: "stablelm",
		config: { qk_layernorm: true, use_parallel_residual: true, use_qkv_bias: true, num_attention_heads: 2, num_key_value_heads: 1 },
		names: [
			EMBED,
			...["q", "k", "v"].flatMap((p) => wb(`${L}self_attn.${p}_proj`)),
			`${L}self_attn.o_proj.weight`,
			`${L}self_attn.q_layernorm.norms.0.weight`,
			`${L}self_attn.q_layernorm.norms.1.weight`,
			`${L}self_attn.k_layernorm.norms.0.weight`,
			...["gate", "up", "down"].map((p) => `${L}mlp.${p}_proj.weight`),
			...wb(`${L}input_layernorm`),
			...wb("model.norm"),
			HEAD,
		],
	},
	{
		family: "starcoder2",
		architecture: "Starcoder2ForCausalLM",
		modelType: "starcoder2",
		names: [
			EMBED,
			...[
				"input_layernorm",
				"self_attn.q_proj",
				"self_attn.k_proj",
				"self_attn.v_proj",
				"self_attn.o_proj",
				"post_attention_layernorm",
				"mlp.c_fc",
				"mlp.c_proj",
			].flatMap((m) => wb(`${L}${m}`)),
			...wb("model.norm"),
		],
	},
	{
		family: "cohere",
		architecture: "CohereForCausalLM",
		modelType: "cohere",
		config: { use_qk_norm: true },
		names: [
			EMBED,
			`${L}input_layernorm.weight`,
			...["q", "k", "v", "o"].map((p) => `${L}self_attn.${p}_proj.weight`),
			`${L}self_attn.q_norm.weight`,
			`${L}self_attn.k_norm.weight`,
			...["gate", "up", "down"].map((p) => `${L}mlp.${p}_proj.weight`),
			NORM,
		],
	},
	{ family: "granite", architecture: "GraniteForCausalLM", modelType: "granite", names: [EMBED, ...LLAMA_LAYER, NORM, HEAD] },
	{
		family: "olmo2",
		architecture: "Olmo2ForCausalLM",
		modelType: "olmo2",
		names: [
			EMBED,
			...["q", "k", "v", "o"].map((p) => `${L}self_attn.${p}_proj.weight`),
			`${L}self_attn.q_norm.weight`,
			`${L}self_attn.k_norm.weight`,
			`${L}post_attention_layernorm.weight`,
			...["gate", "up", "down"].map((p) => `${L}mlp.${p}_proj.weight`),
			`${L}post_feedforward_layernorm.weight`,
			NORM,
			HEAD,
		],
	},
	{
		family: "internlm2",
		architecture: "InternLM2ForCausalLM",
		modelType: "internlm2",
		config: { bias: false },
		names: [
			"model.tok_embeddings.weight",
			`${L}attention.wqkv.weight`,
			`${L}attention.wo.weight`,
			`${L}feed_forward.w1.weight`,
			`${L}feed_forward.w3.weight`,
			`${L}feed_forward.w2.weight`,
			`${L}attention_norm.weight`,
			`${L}ffn_norm.weight`,
			NORM,
			"output.weight",
		],
	},
	{
		family: "baichuan",
		architecture: "BaichuanForCausalLM",
		modelType: "baichuan",
		names: [
			EMBED,
			`${L}self_attn.W_pack.weight`,
			`${L}self_attn.o_proj.weight`,
			`${L}mlp.gate_proj.weight`,
			`${L}mlp.down_proj.weight`,
			`${L}mlp.up_proj.weight`,
			`${L}input_layernorm.weight`,
			`${L}post_attention_layernorm.weight`,
			NORM,
			HEAD,
		],
	},
	{
		family: "exaone",
		architecture: "ExaoneForCausalLM",
		modelType: "exaone",
		names: [
			"transformer.wte.weight",
			"transformer.h.0.ln_1.weight",
			...["q_proj", "k_proj", "v_proj", "out_proj"].map((p) => `transformer.h.0.attn.attention.${p}.weight`),
			"transformer.h.0.ln_2.weight",
			...["c_fc_0", "c_fc_1", "c_proj"].map((p) => `transformer.h.0.mlp.${p}.weight`),
			"transformer.ln_f.weight",
			HEAD,
		],
	},
	{
		family: "exaone4",
		architecture: "Exaone4ForCausalLM",
		modelType: "exaone4",
		names: [
			EMBED,
			...["q", "k", "v", "o"].map((p) => `${L}self_attn.${p}_proj.weight`),
			`${L}self_attn.q_norm.weight`,
			`${L}self_attn.k_norm.weight`,
			`${L}post_attention_layernorm.weight`,
			...["gate", "up", "down"].map((p) => `${L}mlp.${p}_proj.weight`),
			`${L}post_feedforward_layernorm.weight`,
			NORM,
			HEAD,
		],
	},
];

describe("architecture definitions", () => {
	test("the registry lists every family of the issue, each once", () => {
		const names = ARCHITECTURES.map((a) => a.name);
		expect(new Set(names).size).toBe(names.length);
		for (const f of [
			"llama",
			"mistral",
			"mixtral",
			"qwen2",
			"qwen3",
			"gemma",
			"gemma2",
			"gemma3",
			"phi3",
			"phi",
			"gpt2",
			"gpt_neox",
			"gptj",
			"falcon",
			"stablelm",
			"starcoder2",
			"cohere",
			"granite",
			"olmo2",
			"internlm2",
			"baichuan",
			"exaone",
		]) {
			expect(names).toContain(f);
		}
		for (const a of ARCHITECTURES) expect(a.known).toBe(true);
	});

	test.each(CASES.map((c, i) => [`${c.family}${c.config !== undefined ? ` ${JSON.stringify(c.config)}` : ""}`, i] as const))(
		"%s: the generated checkpoint holds exactly the expected tensors",
		async (_label, i) => {
			const c = CASES[i]!;
			const dir = join(root(), `case-${i}`);
			await writeTinyArchitecture(dir, c.family, { layers: 1, ...(c.config !== undefined ? { config: c.config } : {}) });
			const m = await openModel(dir);
			try {
				expect([...m.names()].sort()).toEqual([...c.names].sort());
				const arch = resolveArchitecture(m.rawConfig, m.names());
				expect(arch.spec.name).toBe(c.family);
				expect(arch.missing).toEqual([]);
				expect(arch.unexpected).toEqual([]);
				expect(arch.layerCount).toBe(1);
			} finally {
				await m.close();
			}
			expect(detectArchitecture({ architectures: [c.architecture], modelType: c.modelType }).name).toBe(c.family);
			expect(detectArchitecture({ modelType: c.modelType }).name).toBe(c.family);
		},
	);
});

describe("resolveArchitecture", () => {
	test("GPT-2's original release names tensors without `transformer.`: the bare names are recognised", () => {
		const names = [
			"wte.weight",
			"wpe.weight",
			...["ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"].flatMap((m) => wb(`h.0.${m}`)),
			"h.0.attn.bias",
			...wb("ln_f"),
		];
		const arch = resolveArchitecture({ architectures: ["GPT2LMHeadModel"], model_type: "gpt2", n_layer: 1 }, names);
		expect(arch.spec.name).toBe("gpt2");
		expect(arch.missing).toEqual([]);
		expect(arch.unexpected).toEqual([]);
		expect(arch.tied.get("lm_head.weight")).toBe("wte.weight");
		expect([...arch.embedNames]).toEqual(["wte.weight", "lm_head.weight"]);
		expect(arch.layerCountKeys).toEqual(["n_layer"]);
	});

	test("missing and unlisted tensors are reported", () => {
		const names = ["model.embed_tokens.weight", ...LLAMA_LAYER.slice(1), "model.layers.0.rotary_emb.inv_freq", NORM];
		const arch = resolveArchitecture({ architectures: ["LlamaForCausalLM"], num_hidden_layers: 1 }, names);
		expect(arch.missing).toEqual([`${L}input_layernorm.weight`]);
		expect(arch.unexpected).toEqual(["model.layers.0.rotary_emb.inv_freq"]);
	});

	test("Falcon configs in either spelling give the layer count and the keys to update", () => {
		const falcon = architectureByName("falcon")!;
		const both = resolveArchitecture({ architectures: ["FalconForCausalLM"], num_hidden_layers: 3, n_layer: 3 }, []);
		expect(both.spec.name).toBe(falcon.name);
		expect(both.layerCount).toBe(3);
		expect(both.layerCountKeys).toEqual(["num_hidden_layers", "n_layer"]);
		const legacy = resolveArchitecture({ architectures: ["RWForCausalLM"], model_type: "RefinedWebModel", n_layer: 5 }, []);
		expect(legacy.spec.name).toBe("falcon");
		expect(legacy.layerCount).toBe(5);
		expect(legacy.layerCountKeys).toEqual(["n_layer"]);
	});

	test("an unknown family is inferred: layers from names, the layer-count keys among the usual spellings", () => {
		const names = [
			"transformer.word_embeddings.weight",
			"transformer.h.0.mlp.w.weight",
			"transformer.h.1.mlp.w.weight",
			"transformer.ln_f.weight",
		];
		const arch = resolveArchitecture({ architectures: ["BloomForCausalLM"], n_layer: 2, vocab_size: 10 }, names);
		expect(arch.spec.known).toBe(false);
		expect(arch.declared).toBe("BloomForCausalLM");
		expect(arch.layerCount).toBe(2);
		expect(arch.layerCountKeys).toEqual(["n_layer"]);
		expect(arch.vocabSizeKeys).toEqual(["vocab_size"]);
		expect(arch.tied.get("lm_head.weight")).toBe("transformer.word_embeddings.weight");
	});
});
