import { configIs, defineArchitecture, embedding, layerTemplates, linear, tiedHead } from "../define.js";

const ATTENTION_BIAS = [configIs("attention_bias", true, false)];
const MLP_BIAS = [configIs("mlp_bias", true, false)];

/**
 * Granite (transformers `GraniteForCausalLM`, modeling_granite.py): Llama's tensors (the multipliers `embedding_multiplier`,
 * `residual_multiplier`, `attention_multiplier` and `logits_scaling` are config values, not weights); biases with
 * `attention_bias` / `mlp_bias`.
 */
export const GRANITE = defineArchitecture({
	name: "granite",
	architectures: ["GraniteForCausalLM"],
	modelTypes: ["granite"],
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
	notes: "Dense Granite 3.x (GraniteForCausalLM); GraniteMoe is not covered.",
});
