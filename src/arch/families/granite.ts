import { defineArchitecture } from "../define.js";
import { LLAMA_DEFINITION } from "./llama.js";

/**
 * Granite (transformers `GraniteForCausalLM`, modeling_granite.py): Llama's tensors (the multipliers `embedding_multiplier`,
 * `residual_multiplier`, `attention_multiplier` and `logits_scaling` are config values, not weights); biases with
 * `attention_bias` / `mlp_bias`.
 */
export const GRANITE = defineArchitecture({
	...LLAMA_DEFINITION,
	name: "granite",
	architectures: ["GraniteForCausalLM"],
	modelTypes: ["granite"],
	notes: "Dense Granite 3.x (GraniteForCausalLM); GraniteMoe is not covered.",
});
