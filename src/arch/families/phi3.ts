import { defineArchitecture, embedding, layerTemplates, tiedHead } from "../define.js";

/**
 * Phi-3 (transformers `Phi3ForCausalLM`, modeling_phi3.py): Llama-like, with the q/k/v projections fused into
 * `self_attn.qkv_proj` and the gate/up projections into `mlp.gate_up_proj`.
 */
export const PHI3 = defineArchitecture({
	name: "phi3",
	architectures: ["Phi3ForCausalLM"],
	modelTypes: ["phi3"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", [
		"input_layernorm.weight",
		"self_attn.qkv_proj.weight",
		"self_attn.o_proj.weight",
		"post_attention_layernorm.weight",
		"mlp.gate_up_proj.weight",
		"mlp.down_proj.weight",
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
});
