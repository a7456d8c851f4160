import {
	type ArchitectureDefinition,
	configIs,
	defineArchitecture,
	embedding,
	layerTemplates,
	linear,
	tiedHead,
	weightAndBias,
} from "../define.js";

const BIAS = [configIs("bias", true, false)];
/** The Falcon-40B/180B decoder: two LayerNorms (attention, MLP) side by side, unless `num_ln_in_parallel_attn` is 1. */
const TWO_NORMS = [configIs("new_decoder_architecture", true, false), configIs("num_ln_in_parallel_attn", [2, null], null)];
/** The original Transformer order (falcon-rw): attention, then a second LayerNorm, then the MLP. */
const SEQUENTIAL = [configIs("new_decoder_architecture", false, false), configIs("parallel_attn", false, true)];

const FALCON_DEFINITION: ArchitectureDefinition = {
	name: "falcon",
	architectures: ["FalconForCausalLM", "RWForCausalLM"],
	modelTypes: ["falcon", "RefinedWebModel"],
	layerCountKeys: ["num_hidden_layers", "n_layer"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size", "n_embed"],
	tiedEmbeddingsByDefault: true,
	baseModelPrefix: "transformer.",
	preWeights: [embedding("transformer.word_embeddings.weight")],
	layerWeights: layerTemplates("transformer.h", [
		...weightAndBias("ln_attn", { when: TWO_NORMS }),
		...weightAndBias("ln_mlp", { when: TWO_NORMS }),
		...weightAndBias("input_layernorm", { unless: TWO_NORMS }),
		...weightAndBias("post_attention_layernorm", { when: SEQUENTIAL }),
		...linear("self_attention.query_key_value", BIAS),
		...linear("self_attention.dense", BIAS),
		...linear("mlp.dense_h_to_4h", BIAS),
		...linear("mlp.dense_4h_to_h", BIAS),
	]),
	postWeights: [...weightAndBias("transformer.ln_f"), tiedHead("lm_head.weight", "transformer.word_embeddings.weight")],
	notes:
		"FalconForCausalLM configs (num_hidden_layers or the legacy n_layer; new_decoder_architecture with one or two " +
		"parallel LayerNorms; parallel_attn false as in falcon-rw; bias; multi_query and num_kv_heads change shapes only) " +
		"and the remote-code RWForCausalLM configs (model_type RefinedWebModel, and RefinedWeb for the 40B layout).",
};

/**
 * Falcon (transformers `FalconForCausalLM`, modeling_falcon.py; also the remote-code `RWForCausalLM` it replaced):
 * `transformer.h.N` layers with a fused `query_key_value`; which LayerNorms a layer has depends on
 * `new_decoder_architecture`, `num_ln_in_parallel_attn` and `parallel_attn`; `bias` adds biases to every Linear.
 */
export const FALCON = defineArchitecture(FALCON_DEFINITION);

/** Falcon-40B's original remote-code config (model_type `RefinedWeb`): the new decoder, without saying so. */
export const FALCON_REFINEDWEB = defineArchitecture({
	...FALCON_DEFINITION,
	name: "falcon-refinedweb",
	architectures: ["RWForCausalLM"],
	modelTypes: ["RefinedWeb"],
	configDefaults: { new_decoder_architecture: true },
});
