import { configIs, defineArchitecture, embedding, layerTemplates, tiedHead, weightAndBias } from "../define.js";

const QK_LAYERNORM = [configIs("qk_layernorm", true, false)];

/**
 * Phi-1, Phi-1.5 and Phi-2 (transformers `PhiForCausalLM`, model_type `phi`, modeling_phi.py): one LayerNorm per layer
 * feeding attention and MLP in parallel, biases everywhere, `self_attn.dense` as the output projection, a final
 * LayerNorm and an lm_head with a bias (vocabulary-sized, so it is permuted with the vocabulary). `qk_layernorm` adds
 * LayerNorms on queries and keys. The pre-4.37 remote-code layout (`transformer.h.N.mixer.Wqkv`) is not covered.
 */
export const PHI = defineArchitecture({
	name: "phi",
	architectures: ["PhiForCausalLM"],
	modelTypes: ["phi"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", [
		...weightAndBias("self_attn.q_proj"),
		...weightAndBias("self_attn.k_proj"),
		...weightAndBias("self_attn.v_proj"),
		...weightAndBias("self_attn.dense"),
		...weightAndBias("self_attn.q_layernorm", { when: QK_LAYERNORM }),
		...weightAndBias("self_attn.k_layernorm", { when: QK_LAYERNORM }),
		...weightAndBias("mlp.fc1"),
		...weightAndBias("mlp.fc2"),
		...weightAndBias("input_layernorm"),
	]),
	postWeights: [
		...weightAndBias("model.final_layernorm"),
		tiedHead("lm_head.weight", "model.embed_tokens.weight"),
		{ name: "lm_head.bias", isEmbed: true },
	],
	notes: "transformers' native layout (4.37+); the older remote-code phi-msft layout is inferred from names.",
});
