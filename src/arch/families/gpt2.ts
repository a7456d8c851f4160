import { defineArchitecture, embedding, layerTemplates, tiedHead, weightAndBias } from "../define.js";

/**
 * GPT-2 (transformers `GPT2LMHeadModel`, modeling_gpt2.py): layers are `transformer.h.N`, the projections are Conv1D
 * modules whose weights are stored transposed ([in, out]; merging is element-wise, so this changes nothing), learned
 * position embeddings `wpe` (not vocabulary-sized), and lm_head tied to `wte`. The config counts layers in `n_layer`
 * and the width in `n_embd`. Older checkpoints also hold the causal-mask buffers `attn.bias` / `attn.masked_bias`,
 * and the original release names tensors without the `transformer.` prefix: both are accepted.
 */
export const GPT2 = defineArchitecture({
	name: "gpt2",
	architectures: ["GPT2LMHeadModel"],
	modelTypes: ["gpt2"],
	layerCountKeys: ["n_layer"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["n_embd"],
	tiedEmbeddingsByDefault: true,
	baseModelPrefix: "transformer.",
	preWeights: [embedding("transformer.wte.weight"), { name: "transformer.wpe.weight" }],
	layerWeights: layerTemplates("transformer.h", [
		...weightAndBias("ln_1"),
		{ name: "attn.bias", optional: true },
		{ name: "attn.masked_bias", optional: true },
		...weightAndBias("attn.c_attn"),
		...weightAndBias("attn.c_proj"),
		...weightAndBias("ln_2"),
		...weightAndBias("mlp.c_fc"),
		...weightAndBias("mlp.c_proj"),
	]),
	postWeights: [...weightAndBias("transformer.ln_f"), tiedHead("lm_head.weight", "transformer.wte.weight")],
	notes: "Cross-attention (add_cross_attention) is not covered.",
});
