import { configIs, defineArchitecture, embedding, layerTemplates, linear, tiedHead } from "../define.js";

const BIAS = [configIs("bias", true, true)];

/**
 * InternLM2 and 2.5 (remote code `InternLM2ForCausalLM`, modeling_internlm2.py in the model repositories): its own
 * names: `model.tok_embeddings`, `attention.wqkv` (fused, grouped per KV head) and `attention.wo` (biased when `bias`),
 * `feed_forward.w1` / `w3` / `w2` (gate, up, down), `attention_norm`, `ffn_norm`, and the head `output.weight`.
 */
export const INTERNLM2 = defineArchitecture({
	name: "internlm2",
	architectures: ["InternLM2ForCausalLM"],
	modelTypes: ["internlm2"],
	layerCountKeys: ["num_hidden_layers"],
	vocabSizeKeys: ["vocab_size"],
	hiddenSizeKeys: ["hidden_size"],
	tiedEmbeddingsByDefault: false,
	baseModelPrefix: "model.",
	preWeights: [embedding("model.tok_embeddings.weight")],
	layerWeights: layerTemplates("model.layers", [
		...linear("attention.wqkv", BIAS),
		...linear("attention.wo", BIAS),
		"feed_forward.w1.weight",
		"feed_forward.w3.weight",
		"feed_forward.w2.weight",
		"attention_norm.weight",
		"ffn_norm.weight",
	]),
	postWeights: [{ name: "model.norm.weight" }, tiedHead("output.weight", "model.tok_embeddings.weight")],
});
