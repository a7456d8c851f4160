import { defineArchitecture, embedding, layerTemplates, tiedHead } from "../define.js";

/**
 * Qwen2 and Qwen2.5 (transformers `Qwen2ForCausalLM`, modeling_qwen2.py): Llama's layout with biases on the q, k and v
 * projections (o_proj has none). The small models tie lm_head to the embeddings (`tie_word_embeddings: true`).
 */
export const QWEN2 = defineArchitecture({
	name: "qwen2",
	architectures: ["Qwen2ForCausalLM"],
	modelTypes: ["qwen2"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", [
		"input_layernorm.weight",
		"self_attn.q_proj.weight",
		"self_attn.q_proj.bias",
		"self_attn.k_proj.weight",
		"self_attn.k_proj.bias",
		"self_attn.v_proj.weight",
		"self_attn.v_proj.bias",
		"self_attn.o_proj.weight",
		"post_attention_layernorm.weight",
		"mlp.gate_proj.weight",
		"mlp.up_proj.weight",
		"mlp.down_proj.weight",
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
});
