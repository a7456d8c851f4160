import { defineArchitecture, embedding, LLAMA_LAYER, layerTemplates, tiedHead } from "../define.js";

/**
 * Mistral (transformers `MistralForCausalLM`, modeling_mistral.py): Llama's tensors without bias options (sliding-window
 * attention changes the forward pass, not the weights): 1 + 9 per layer + 2 tensors, 291 for Mistral-7B.
 */
export const MISTRAL = defineArchitecture({
	name: "mistral",
	architectures: ["MistralForCausalLM"],
	modelTypes: ["mistral"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.embed_tokens.weight")],
	layerWeights: layerTemplates("model.layers", LLAMA_LAYER),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("lm_head.weight", "model.embed_tokens.weight")],
});
