import { defineArchitecture, embedding, LLAMA_LAYER, layerTemplates, tiedHead } from "../define.js";

/**
 * Gemma (transformers `GemmaForCausalLM`, modeling_gemma.py): Llama's tensor names; lm_head is tied to the embeddings
 * by default, so checkpoints hold no `lm_head.weight`. The model multiplies the embeddings by √hidden_size at run time
 * and stores RMSNorm weights as (1 + w): neither changes how tensors merge.
 */
export const GEMMA = defineArchitecture({
	name: "gemma",
	architectures: ["GemmaForCausalLM"],
	modelTypes: ["gemma"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: true,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", LLAMA_LAYER),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
});
