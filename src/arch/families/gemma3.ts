import { configIs, defineArchitecture, embedding, layerTemplates, linear, tiedHead } from "../define.js";

const ATTENTION_BIAS = [configIs("attention_bias", true, false)];

/**
 * Gemma 3, text only (transformers `Gemma3ForCausalLM`, model_type `gemma3_text`, modeling_gemma3.py): Gemma 2's four
 * norms per layer plus q/k RMSNorms. The multimodal `Gemma3ForConditionalGeneration` (vision tower, `text_config`) is
 * not covered: its tensors are inferred from names.
 */
export const GEMMA3 = defineArchitecture({
	name: "gemma3",
	architectures: ["Gemma3ForCausalLM"],
	modelTypes: ["gemma3_text"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: true,
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
		"pre_feedforward_layernorm.weight",
		"mlp.gate_proj.weight",
		"mlp.up_proj.weight",
		"mlp.down_proj.weight",
		"post_feedforward_layernorm.weight",
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
	notes: "Text-only Gemma3ForCausalLM; the vision-language Gemma3ForConditionalGeneration is not covered.",
});
