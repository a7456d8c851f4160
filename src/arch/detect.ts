import { PlanError } from "../errors.js";
import { ARCHITECTURES } from "./registry.js";
import { type ArchitectureSpec, LAYER_INDEX_PLACEHOLDER, type WeightSpec } from "./types.js";

export { expectedTensorNames, expectedWeights } from "./expected-weights.js";

/** The part of config.json that selects an architecture (a ModelConfig fits). */
interface ArchitectureHint {
	architectures?: readonly string[];
	modelType?: string | undefined;
}

/** What a tensor does, from its name alone. */
type ModuleKind = "embed" | "attention" | "mlp" | "norm" | "lm_head" | "other";

/**
 * `<prefix>.<container>.<i>.` where container is `layers` (Llama/Mistral), `h` (GPT-2, Falcon) or
 * `blocks`; the prefix may be empty. Group 1 is everything up to the index, group 2 the index.
 */
const LAYER_RE = /^((?:.*\.)?(?:layers|h|blocks)\.)(\d+)\./;

/**
 * The architecture for a config.json: by `architectures` (a class name several families share, such as Falcon's
 * `RWForCausalLM`, is told apart by `model_type`), else by `model_type`. An unknown model is not an error: the result
 * is a generic spec (`known: false`) whose templates come from `tensorNames` grouped by layer index (empty when no
 * names are given), and callers fall back to name parsing.
 */
export function detectArchitecture(config: ArchitectureHint | undefined, tensorNames?: readonly string[]): ArchitectureSpec {
	const archs = config?.architectures ?? [];
	const modelType = config?.modelType;
	for (const arch of archs) {
		const candidates = ARCHITECTURES.filter((s) => s.architectures.includes(arch));
		const spec = candidates.find((s) => modelType !== undefined && s.modelTypes.includes(modelType)) ?? candidates[0];
		if (spec !== undefined) return spec;
	}
	if (modelType !== undefined) {
		const spec = ARCHITECTURES.find((s) => s.modelTypes.includes(modelType));
		if (spec !== undefined) return spec;
	}
	return inferArchitecture(tensorNames ?? [], archs[0] ?? modelType ?? "unknown");
}

/** The `architectures` and `model_type` of a raw config.json object. */
export function architectureHint(config: Readonly<Record<string, unknown>> | undefined): ArchitectureHint {
	const archs = config?.architectures;
	const modelType = config?.model_type;
	return {
		architectures: Array.isArray(archs) ? archs.filter((a): a is string => typeof a === "string") : [],
		modelType: typeof modelType === "string" ? modelType : undefined,
	};
}

/** A generic spec from tensor names: layer tensors become templates, the rest go before or after the layers. */
export function inferArchitecture(tensorNames: readonly string[], name = "unknown"): ArchitectureSpec {
	const pre: WeightSpec[] = [];
	const post: WeightSpec[] = [];
	const templates: WeightSpec[] = [];
	const seen = new Set<string>();
	for (const tensor of tensorNames) {
		const m = LAYER_RE.exec(tensor);
		if (m !== null) {
			const template = `${m[1]}${LAYER_INDEX_PLACEHOLDER}.${tensor.slice(m[0].length)}`;
			if (!seen.has(template)) templates.push({ name: template });
			seen.add(template);
			continue;
		}
		const kind = moduleKindOf(tensor);
		const spec: WeightSpec = { name: tensor, ...(kind === "embed" || kind === "lm_head" ? { isEmbed: true } : {}) };
		(kind === "embed" ? pre : post).push(spec);
	}
	return {
		name,
		architectures: [],
		modelTypes: [],
		numLayersKey: "num_hidden_layers",
		preWeights: pre,
		layerWeights: templates,
		postWeights: post,
		layerCountKeys: ["num_hidden_layers"],
		vocabSizeKeys: ["vocab_size"],
		hiddenSizeKeys: ["hidden_size"],
		tiedEmbeddingsByDefault: false,
		known: false,
	};
}

/** The layer number of a per-layer tensor (`model.layers.<i>.…`), or undefined for embeddings, final norm, head. */
export function layerIndexOf(name: string): number | undefined {
	const m = LAYER_RE.exec(name);
	return m === null ? undefined : Number(m[2]);
}

/** The same tensor in another layer: `model.layers.3.mlp.up_proj.weight` → `model.layers.7.mlp.up_proj.weight`. */
export function renameLayer(name: string, newIndex: number): string {
	if (!Number.isInteger(newIndex) || newIndex < 0) {
		throw new PlanError("LayerRange", `layer index ${newIndex} for tensor "${name}" is not an integer ≥ 0`, name);
	}
	const m = LAYER_RE.exec(name);
	if (m === null) throw new PlanError("LayerRange", `tensor "${name}" belongs to no layer, so it cannot move to layer ${newIndex}`, name);
	return `${m[1]}${newIndex}.${name.slice(m[0].length)}`;
}

/** Classifies a tensor by its name; works for Llama/Mistral and the common GPT-2/NeoX spellings. */
export function moduleKindOf(name: string): ModuleKind {
	const n = name.toLowerCase();
	if (/(^|\.)(embed_tokens|tok_embeddings|wte|word_embeddings|embed_in)\./.test(n)) return "embed";
	if (/(^|\.)(lm_head|embed_out)\./.test(n)) return "lm_head";
	if (/norm|(^|\.)ln_?\w*\./.test(n)) return "norm";
	if (/(^|\.)(self_attn|attn|attention|self_attention)\./.test(n)) return "attention";
	if (/(^|\.)(mlp|feed_forward|ffn)\./.test(n)) return "mlp";
	return "other";
}

/** True for the vocabulary-sized tensors (input embeddings and the output head). */
export function isEmbedTensor(name: string): boolean {
	const kind = moduleKindOf(name);
	return kind === "embed" || kind === "lm_head";
}
