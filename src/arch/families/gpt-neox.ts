import { configIs, defineArchitecture, embedding, layerTemplates, linear, tiedHead, weightAndBias } from "../define.js";

const ATTENTION_BIAS = [configIs("attention_bias", true, true)];

/**
 * GPT-NeoX and Pythia (transformers `GPTNeoXForCausalLM`, modeling_gpt_neox.py): `gpt_neox.embed_in`, layers under
 * `gpt_neox.layers` with two LayerNorms, a fused `attention.query_key_value` and `attention.dense` (biased unless
 * `attention_bias: false`), `mlp.dense_h_to_4h` / `dense_4h_to_h`, a final LayerNorm and an untied `embed_out`.
 * Pythia checkpoints also hold buffers (`attention.bias`, `attention.masked_bias`, `attention.rotary_emb.inv_freq`).
 */
export const GPT_NEOX = defineArchitecture({
	name: "gpt_neox",
	architectures: ["GPTNeoXForCausalLM"],
	modelTypes: ["gpt_neox"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "gpt_neox.",
	preWeights: [embedding("gpt_neox.embed_in.weight")],
	layerWeights: layerTemplates("gpt_neox.layers", [
		...weightAndBias("input_layernorm"),
		...weightAndBias("post_attention_layernorm"),
		{ name: "attention.bias", optional: true },
		{ name: "attention.masked_bias", optional: true },
		{ name: "attention.rotary_emb.inv_freq", optional: true },
		...linear("attention.query_key_value", ATTENTION_BIAS),
		...linear("attention.dense", ATTENTION_BIAS),
		...weightAndBias("mlp.dense_h_to_4h"),
		...weightAndBias("mlp.dense_4h_to_h"),
	]),
	postWeights: [...weightAndBias("gpt_neox.final_layer_norm"), tiedHead("embed_out.weight", "gpt_neox.embed_in.weight")],
});
