import { configIs, defineArchitecture, embedding, layerTemplates, linear, tiedHead } from "../define.js";

const ATTENTION_BIAS = [configIs("attention_bias", true, false)];
const QK_NORM = [configIs("use_qk_norm", true, false)];

/**
 * Cohere / Command-R (transformers `CohereForCausalLM`, modeling_cohere.py): one LayerNorm (weight only) feeding
 * attention and MLP in parallel, so no `post_attention_layernorm`; q/k norms with `use_qk_norm`; lm_head tied by
 * default (logits scaled by `logit_scale` at run time).
 */
export const COHERE = defineArchitecture({
	name: "cohere",
	architectures: ["CohereForCausalLM"],
	modelTypes: ["cohere"],
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
		{ name: "self_attn.q_norm.weight", when: QK_NORM },
		{ name: "self_attn.k_norm.weight", when: QK_NORM },
		"mlp.gate_proj.weight",
		"mlp.up_proj.weight",
		"mlp.down_proj.weight",
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
	notes: "Command-R and Command-R+ (CohereForCausalLM); Cohere2 (sliding-window Command-R7B) is not covered.",
});
