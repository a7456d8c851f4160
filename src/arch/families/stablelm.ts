import { configIs, defineArchitecture, embedding, layerTemplates, linear, tiedHead, weightAndBias } from "../define.js";

const QKV_BIAS = [configIs("use_qkv_bias", true, false)];
const QK_LAYERNORM = [configIs("qk_layernorm", true, false)];
const PARALLEL = [configIs("use_parallel_residual", true, false)];

/**
 * StableLM (transformers `StableLmForCausalLM`, modeling_stablelm.py): LayerNorms with biases, q/k/v biases with
 * `use_qkv_bias`, per-head query/key LayerNorms (`self_attn.q_layernorm.norms.<head>`) with `qk_layernorm`, and no
 * `post_attention_layernorm` with `use_parallel_residual` (StableLM 2 12B).
 */
export const STABLELM = defineArchitecture({
	name: "stablelm",
	architectures: ["StableLmForCausalLM"],
	modelTypes: ["stablelm"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", [
		...linear("self_attn.q_proj", QKV_BIAS),
		...linear("self_attn.k_proj", QKV_BIAS),
		...linear("self_attn.v_proj", QKV_BIAS),
		"self_attn.o_proj.weight",
		{ name: "self_attn.q_layernorm.norms.${index}.weight", when: QK_LAYERNORM, repeat: { key: "num_attention_heads" } },
		{
			name: "self_attn.k_layernorm.norms.${index}.weight",
			when: QK_LAYERNORM,
			repeat: { key: ["num_key_value_heads", "num_attention_heads"] },
		},
		"mlp.gate_proj.weight",
		"mlp.up_proj.weight",
		"mlp.down_proj.weight",
		...weightAndBias("input_layernorm"),
		...weightAndBias("post_attention_layernorm", { unless: PARALLEL }),
	]),
	postWeights: [...weightAndBias("model.norm"), tiedHead("lm_head.weight", "model.embed_tokens.weight")],
	notes: "StableLM 3B 4E1T, StableLM 2 (1.6B with q/k/v biases, 12B with per-head q/k norms and parallel residual).",
});
