/**
 * The `general.*` and `llama.*` metadata of a Llama/Mistral checkpoint exported for llama.cpp's `llama`
 * architecture, from its config.json.
 */
import { GgufError } from "../errors.js";
import type { ModelConfig } from "../model/config.js";
import { type GgufValue, gguf } from "./metadata.js";

/** Hugging Face architectures (config.json `architectures[0]` / `model_type`) exported as `llama`. */
const LLAMA_ARCHITECTURES = ["LlamaForCausalLM", "MistralForCausalLM"] as const;
const LLAMA_MODEL_TYPES = ["llama", "mistral"];

/** Context length written when config.json has no max_position_embeddings (Llama 2's). */
const DEFAULT_CONTEXT_LENGTH = 4096;

/** Throws GgufError "UnsupportedModel" unless the config describes a model the `llama` architecture runs as-is. */
export function checkLlamaCompatible(cfg: ModelConfig, where: string): void {
	const arch = cfg.architectures[0];
	const known =
		arch !== undefined
			? (LLAMA_ARCHITECTURES as readonly string[]).includes(arch)
			: cfg.modelType !== undefined && LLAMA_MODEL_TYPES.includes(cfg.modelType);
	if (!known) {
		throw new GgufError(
			"UnsupportedModel",
			where,
			`architecture ${arch ?? cfg.modelType ?? "unknown"} is not exported to GGUF (supported: ${LLAMA_ARCHITECTURES.join(", ")})`,
		);
	}
	const act = cfg.raw.hidden_act ?? "silu";
	if (act !== "silu")
		throw new GgufError("UnsupportedModel", where, `hidden_act "${String(act)}": llama.cpp's llama architecture uses silu`);
	const scaling = cfg.raw.rope_scaling;
	if (scaling !== null && scaling !== undefined) {
		const type =
			typeof scaling === "object" ? ((scaling as Record<string, unknown>).rope_type ?? (scaling as Record<string, unknown>).type) : scaling;
		if (type !== "linear" && type !== "default") {
			throw new GgufError("UnsupportedModel", where, `rope_scaling type ${JSON.stringify(type)} is not exported (only linear)`);
		}
	}
	for (const key of ["attention_bias", "mlp_bias"]) {
		if (cfg.raw[key] === true)
			throw new GgufError("UnsupportedModel", where, `${key}: true is not exported (llama.cpp would need the bias tensors)`);
	}
	if (cfg.headDim % 2 !== 0) throw new GgufError("UnsupportedModel", where, `head_dim ${cfg.headDim} is odd: rotary embeddings need pairs`);
}

/** The architecture metadata, in the order llama.cpp's converter writes it. */
export function llamaMetadata(cfg: ModelConfig, name: string, fileType: number): Array<[string, GgufValue]> {
	const ctx = typeof cfg.raw.max_position_embeddings === "number" ? cfg.raw.max_position_embeddings : DEFAULT_CONTEXT_LENGTH;
	const out: Array<[string, GgufValue]> = [
		["general.architecture", gguf.str("llama")],
		["general.name", gguf.str(name)],
		["llama.vocab_size", gguf.u32(cfg.vocabSize)],
		["llama.context_length", gguf.u32(ctx)],
		["llama.embedding_length", gguf.u32(cfg.hiddenSize)],
		["llama.block_count", gguf.u32(cfg.numHiddenLayers)],
		["llama.feed_forward_length", gguf.u32(cfg.intermediateSize)],
		["llama.rope.dimension_count", gguf.u32(cfg.headDim)],
		["llama.attention.head_count", gguf.u32(cfg.numAttentionHeads)],
		["llama.attention.head_count_kv", gguf.u32(cfg.numKeyValueHeads)],
		["llama.attention.key_length", gguf.u32(cfg.headDim)],
		["llama.attention.value_length", gguf.u32(cfg.headDim)],
		["llama.attention.layer_norm_rms_epsilon", gguf.f32(cfg.rmsNormEps)],
		["llama.rope.freq_base", gguf.f32(cfg.ropeTheta)],
	];
	const scaling = cfg.raw.rope_scaling as Record<string, unknown> | null | undefined;
	if (scaling !== null && scaling !== undefined && (scaling.rope_type ?? scaling.type) === "linear" && typeof scaling.factor === "number") {
		out.push(["llama.rope.scaling.type", gguf.str("linear")], ["llama.rope.scaling.factor", gguf.f32(scaling.factor)]);
	}
	// Recorded for readers; llama.cpp's llama architecture attends over the whole context regardless.
	if (cfg.slidingWindow !== null) out.push(["llama.attention.sliding_window", gguf.u32(cfg.slidingWindow)]);
	out.push(["general.file_type", gguf.u32(fileType)]);
	return out;
}
