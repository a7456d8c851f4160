import { configIs, defineArchitecture, embedding, layerTemplates, linear, tiedHead } from "../define.js";

const ATTENTION_BIAS = [configIs("attention_bias", true, false)];

/**
 * Qwen3 (transformers `Qwen3ForCausalLM`, modeling_qwen3.py): Llama's layout plus RMSNorms on the queries and keys
 * (`self_attn.q_norm`, `self_attn.k_norm`, one head wide); no q/k/v biases unless `attention_bias`.
 */
export const QWEN3 = defineArchitecture({
	name: "qwen3",
	architectures: ["Qwen3ForCausalLM"],
	modelTypes: ["qwen3"],
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
		"self_attn.q_norm.weight",
		"self_attn.k_norm.weight",
		"post_attention_layernorm.weight",
		"mlp.gate_proj.weight",
		"mlp.up_proj.weight",
		"mlp.down_proj.weight",
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
});
