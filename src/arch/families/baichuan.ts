import { defineArchitecture, embedding, layerTemplates, tiedHead } from "../define.js";

/**
 * Baichuan and Baichuan 2 (remote code `BaichuanForCausalLM`, modeling_baichuan.py in the model repositories): Llama's
 * layout with the q/k/v projections fused into `self_attn.W_pack`. Baichuan 2's normalised head (NormHead) is stored
 * as a plain `lm_head.weight`; the 13B models' ALiBi adds no weights.
 */
export const BAICHUAN = defineArchitecture({
	name: "baichuan",
	architectures: ["BaichuanForCausalLM", "BaiChuanForCausalLM"],
	modelTypes: ["baichuan"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", [
		"self_attn.W_pack.weight",
		"self_attn.o_proj.weight",
		"mlp.gate_proj.weight",
		"mlp.down_proj.weight",
		"mlp.up_proj.weight",
		"input_layernorm.weight",
		"post_attention_layernorm.weight",
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
});
