import { defineArchitecture, embedding, layerTemplates, tiedHead, weightAndBias } from "../define.js";

/**
 * GPT-J (transformers `GPTJForCausalLM`, modeling_gptj.py): `transformer.h.N` layers with one LayerNorm feeding
 * attention (q/k/v/out projections without biases) and MLP (`fc_in`, `fc_out`, biased) in parallel; lm_head has a
 * bias. The config counts layers in `n_layer` and the width in `n_embd`. Older checkpoints hold the causal-mask
 * buffers `attn.bias` / `attn.masked_bias`.
 */
export const GPTJ = defineArchitecture({
	name: "gptj",
	architectures: ["GPTJForCausalLM"],
	modelTypes: ["gptj"],
	layerCountKeys: ["n_layer"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["n_embd"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "transformer.",
	preWeights: [embedding("transformer.wte.weight")],
	layerWeights: layerTemplates("transformer.h", [
		...weightAndBias("ln_1"),
		{ name: "attn.bias", optional: true },
		{ name: "attn.masked_bias", optional: true },
		"attn.k_proj.weight",
		"attn.v_proj.weight",
		"attn.q_proj.weight",
		"attn.out_proj.weight",
		...weightAndBias("mlp.fc_in"),
		...weightAndBias("mlp.fc_out"),
	]),
	postWeights: [
		...weightAndBias("transformer.ln_f"),
		tiedHead("lm_head.weight", "transformer.wte.weight"),
		{ name: "lm_head.bias", isEmbed: true },
	],
});
