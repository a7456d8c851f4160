import { defineArchitecture, embedding, layerTemplates, tiedHead } from "../define.js";

/**
 * EXAONE 3.0 / 3.5 (remote code `ExaoneForCausalLM`, modeling_exaone.py in the LGAI-EXAONE repositories): GPT-2-style
 * names (`transformer.wte`, `transformer.h.N.ln_1` / `ln_2`, `transformer.ln_f`) around a Llama-style block
 * (`attn.attention.{q,k,v,out}_proj`, gated MLP `mlp.c_fc_0` / `c_fc_1` / `c_proj`). The config counts layers in
 * `num_layers` (transformers maps `num_hidden_layers` onto it).
 */
export const EXAONE = defineArchitecture({
	name: "exaone",
	architectures: ["ExaoneForCausalLM"],
	modelTypes: ["exaone"],
	layerCountKeys: ["num_layers", "num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "transformer.",
	preWeights: [embedding("transformer.wte.weight")],
	layerWeights: layerTemplates("transformer.h", [
		"ln_1.weight",
		"attn.attention.q_proj.weight",
		"attn.attention.k_proj.weight",
		"attn.attention.v_proj.weight",
		"attn.attention.out_proj.weight",
		"ln_2.weight",
		"mlp.c_fc_0.weight",
		"mlp.c_fc_1.weight",
		"mlp.c_proj.weight",
	]),
	postWeights: [{ name: "transformer.ln_f.weight" }, tiedHead("lm_head.weight", "transformer.wte.weight")],
	notes: "EXAONE 3.0 and 3.5 (remote code); EXAONE 4.0 is the separate exaone4 definition.",
});

/**
 * EXAONE 4.0 (transformers `Exaone4ForCausalLM`, modeling_exaone4.py): OLMo 2's layer (norms after attention and after
 * the MLP, q/k RMSNorms) under Llama's names.
 */
export const EXAONE4 = defineArchitecture({
	name: "exaone4",
	architectures: ["Exaone4ForCausalLM"],
	modelTypes: ["exaone4"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", [
		"self_attn.q_proj.weight",
		"self_attn.k_proj.weight",
		"self_attn.v_proj.weight",
		"self_attn.o_proj.weight",
		"self_attn.q_norm.weight",
		"self_attn.k_norm.weight",
		"post_attention_layernorm.weight",
		"mlp.gate_proj.weight",
		"mlp.up_proj.weight",
		"mlp.down_proj.weight",
		"post_feedforward_layernorm.weight",
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
});
