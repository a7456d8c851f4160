import { configIs, defineArchitecture, embedding, layerTemplates, linear, tiedHead } from "../define.js";

const ATTENTION_BIAS = [configIs("attention_bias", true, false)];

/**
 * OLMo 2 (transformers `Olmo2ForCausalLM`, modeling_olmo2.py): RMSNorms after attention and after the MLP (no
 * `input_layernorm`), and q/k RMSNorms over the whole projection width.
 */
export const OLMO2 = defineArchitecture({
	name: "olmo2",
	architectures: ["Olmo2ForCausalLM"],
	modelTypes: ["olmo2"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", [
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
		"post_feedforward_layernorm.weight",
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
});
