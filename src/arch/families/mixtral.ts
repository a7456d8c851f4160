import { defineArchitecture, embedding, layerTemplates, tiedHead } from "../define.js";
import type { RepeatSpec } from "../types.js";

/** One copy per expert: `num_local_experts` (8 in Mixtral-8x7B, transformers' default). */
const EXPERTS: RepeatSpec = { key: "num_local_experts", default: 8 };

/**
 * Mixtral (transformers `MixtralForCausalLM`, modeling_mixtral.py, the per-expert checkpoint layout the Hub holds):
 * Mistral attention, and a sparse MoE block whose router (`block_sparse_moe.gate`) and experts' `w1`/`w2`/`w3` are
 * separate tensors. Merging is dense: every expert's weights, and the router, are merged tensor by tensor.
 */
export const MIXTRAL = defineArchitecture({
	name: "mixtral",
	architectures: ["MixtralForCausalLM"],
	modelTypes: ["mixtral"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", [
		"input_layernorm.weight",
		"self_attn.q_proj.weight",
		"self_attn.k_proj.weight",
		"self_attn.v_proj.weight",
		"self_attn.o_proj.weight",
		"post_attention_layernorm.weight",
		"block_sparse_moe.gate.weight",
		{ name: "block_sparse_moe.experts.${index}.w1.weight", repeat: EXPERTS },
		{ name: "block_sparse_moe.experts.${index}.w2.weight", repeat: EXPERTS },
		{ name: "block_sparse_moe.experts.${index}.w3.weight", repeat: EXPERTS },
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
	notes: "The per-expert layout (experts.N.w1/w2/w3); transformers v5's fused expert tensors are not covered.",
});
