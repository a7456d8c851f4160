import { EvaluationError } from "../errors.js";
import type { ModelConfig } from "../model/config.js";

/** `model_type` values whose checkpoints this forward pass runs (same tensors, same math). */
const SUPPORTED_MODEL_TYPES = ["mistral", "llama"] as const;

/** `hidden_act` values the MLP implements: SiLU, under both of its names. */
const SUPPORTED_ACTIVATIONS = ["silu", "swish"];

/**
 * The numbers the evaluator's forward pass needs, validated once (llama2.c's `Config`). Weights and run
 * state live in separate types (`MistralWeights`, `RunState`).
 */
export interface MistralConfig {
	/** Width of the residual stream (hidden_size). */
	hidden: number;
	/** Width of the gated MLP (intermediate_size). */
	intermediate: number;
	layers: number;
	heads: number;
	/** Key/value heads; query head h reads kv head ⌊h / (heads / kvHeads)⌋. */
	kvHeads: number;
	/** Per-head width; config head_dim, else hidden / heads. Even, since RoPE rotates pairs. */
	headDim: number;
	vocab: number;
	rmsNormEps: number;
	ropeTheta: number;
	/** Each query sees at most this many keys (itself included); null = plain causal attention. */
	slidingWindow: number | null;
	/** lm_head reuses the embedding matrix. */
	tieEmbeddings: boolean;
	/** The longest sequence the model was trained for (max_position_embeddings); absent when config.json omits it. */
	maxPositions?: number;
}

function configError(where: string, message: string): never {
	throw new EvaluationError("Config", `${where}: ${message}`);
}

/**
 * Validates a parsed config.json for the evaluator: a Mistral or Llama model without the features this
 * forward pass does not implement (rope_scaling, biases, other activations). `where` names the model in
 * messages. Throws EvaluationError "Config".
 */
export function toMistralConfig(cfg: ModelConfig, where: string): MistralConfig {
	const type = cfg.modelType;
	const known = SUPPORTED_MODEL_TYPES as readonly string[];
	const archOk = cfg.architectures.some((a) => a === "MistralForCausalLM" || a === "LlamaForCausalLM");
	if (!(type !== undefined && known.includes(type)) && !archOk) {
		configError(where, `model_type ${JSON.stringify(type)} is not one of ${known.join(", ")}; the evaluator runs Mistral/Llama models`);
	}
	const raw = cfg.raw;
	const act = raw.hidden_act ?? "silu";
	if (typeof act !== "string" || !SUPPORTED_ACTIVATIONS.includes(act)) {
		configError(where, `hidden_act ${JSON.stringify(act)} is not supported (only silu)`);
	}
	if (raw.rope_scaling != null) {
		configError(where, `rope_scaling ${JSON.stringify(raw.rope_scaling)} is not supported (plain RoPE only)`);
	}
	for (const key of ["attention_bias", "mlp_bias"]) {
		if (raw[key] === true) configError(where, `${key} true is not supported (projections without bias only)`);
	}
	if (cfg.headDim % 2 !== 0) configError(where, `head_dim ${cfg.headDim} must be even (RoPE rotates pairs of dims)`);
	if (cfg.numAttentionHeads % cfg.numKeyValueHeads !== 0) {
		configError(where, `num_key_value_heads ${cfg.numKeyValueHeads} must divide num_attention_heads ${cfg.numAttentionHeads}`);
	}
	return {
		hidden: cfg.hiddenSize,
		intermediate: cfg.intermediateSize,
		layers: cfg.numHiddenLayers,
		heads: cfg.numAttentionHeads,
		kvHeads: cfg.numKeyValueHeads,
		headDim: cfg.headDim,
		vocab: cfg.vocabSize,
		rmsNormEps: cfg.rmsNormEps,
		ropeTheta: cfg.ropeTheta,
		slidingWindow: cfg.slidingWindow,
		tieEmbeddings: cfg.tieWordEmbeddings,
		maxPositions: positiveIntOrUndefined(raw.max_position_embeddings),
	};
}

function positiveIntOrUndefined(v: unknown): number | undefined {
	return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** Parameters of one decoder layer (the four projections, the three MLP matrices, two norms). */
export function layerParamCount(c: MistralConfig): number {
	const qo = 2 * c.hidden * c.heads * c.headDim;
	const kv = 2 * c.hidden * c.kvHeads * c.headDim;
	return qo + kv + 3 * c.hidden * c.intermediate + 2 * c.hidden;
}

/** Bytes of every weight decoded to float32 (what in-memory mode holds, embeddings and lm_head included). */
export function float32WeightBytes(c: MistralConfig): number {
	const embed = c.vocab * c.hidden;
	const head = c.tieEmbeddings ? 0 : c.vocab * c.hidden;
	return 4 * (embed + head + c.hidden + c.layers * layerParamCount(c));
}
