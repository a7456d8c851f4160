import { configIs, defineArchitecture, embedding, layerTemplates, linear, tiedHead, weightAndBias } from "../define.js";

const USE_BIAS = [configIs("use_bias", true, true)];

/**
 * StarCoder2 (transformers `Starcoder2ForCausalLM`, modeling_starcoder2.py): LayerNorms with biases, q/k/v/o and the
 * `mlp.c_fc` / `mlp.c_proj` MLP biased when `use_bias` (the default); lm_head tied by default.
 */
export const STARCODER2 = defineArchitecture({
	name: "starcoder2",
	architectures: ["Starcoder2ForCausalLM"],
	modelTypes: ["starcoder2"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: true,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", [
		...weightAndBias("input_layernorm"),
		...linear("self_attn.q_proj", USE_BIAS),
		...linear("self_attn.k_proj", USE_BIAS),
		...linear("self_attn.v_proj", USE_BIAS),
		...linear("self_attn.o_proj", USE_BIAS),
		...weightAndBias("post_attention_layernorm"),
		...linear("mlp.c_fc", USE_BIAS),
		...linear("mlp.c_proj", USE_BIAS),
	]),
	postWeights: [...weightAndBias("model.norm"), tiedHead("lm_head.weight", "model.embed_tokens.weight")],
});
