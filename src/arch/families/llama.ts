import { type ArchitectureDefinition, configIs, defineArchitecture, embedding, layerTemplates, linear, tiedHead } from "../define.js";

const ATTENTION_BIAS = [configIs("attention_bias", true, false)];
const MLP_BIAS = [configIs("mlp_bias", true, false)];

/**
 * Llama (transformers `LlamaForCausalLM`, modeling_llama.py): RMSNorm before attention and MLP, q/k/v/o projections,
 * a gated MLP. `attention_bias` adds biases to q/k/v/o, `mlp_bias` to gate/up/down (both off by default).
 */
/** The definition itself, for families that are Llama's tensors under another name (Granite). */
export const LLAMA_DEFINITION: ArchitectureDefinition = {
	name: "llama",
	architectures: ["LlamaForCausalLM"],
	modelTypes: ["llama"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", [
		"input_layernorm.weight",
		...linear("self_attn.q_proj", ATTENTION_BIAS),
		...linear("self_attn.k_proj", ATTENTION_BIAS),
		...linear("self_attn.v_proj", ATTENTION_BIAS),
		...linear("self_attn.o_proj", ATTENTION_BIAS),
		"post_attention_layernorm.weight",
		...linear("mlp.gate_proj", MLP_BIAS),
		...linear("mlp.up_proj", MLP_BIAS),
		...linear("mlp.down_proj", MLP_BIAS),
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
	notes: "Llama 1–3 and every checkpoint published as LlamaForCausalLM; attention_bias and mlp_bias variants.",
};

export const LLAMA = defineArchitecture(LLAMA_DEFINITION);
