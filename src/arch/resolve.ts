import { configLayerCount, configValue, firstIntegerKey, type RawConfig } from "./config-values.js";
import { architectureHint, detectArchitecture, isEmbedTensor, layerIndexOf, moduleKindOf } from "./detect.js";
import { expectedWeights } from "./expected-weights.js";
import type { ArchitectureSpec, WeightSpec } from "./types.js";

/** How many names a warning lists before "…": enough to recognise a pattern, short enough for one line. */
const MAX_LISTED_NAMES = 4;

/** The config keys an unknown family's layer count may sit under (the spellings transformers configs use). */
const GENERIC_LAYER_KEYS = ["num_hidden_layers", "n_layer", "n_layers", "num_layers"];

/** What the merge needs to know about one checkpoint's architecture, from its config.json and tensor names. */
export interface ResolvedArchitecture {
	/** The definition as it applies to this checkpoint (prefix-less names for bare-model checkpoints), or an inferred one. */
	spec: ArchitectureSpec;
	/** What config.json declares (`architectures[0]`, else `model_type`, else "unknown"). */
	declared: string;
	/** The number of transformer layers: config.json's (the family's keys), else the highest layer index + 1. */
	layerCount: number;
	/** Keys of config.json that hold the layer count (all of them get the merged count). */
	layerCountKeys: string[];
	/** Keys of config.json that hold the vocabulary size. */
	vocabSizeKeys: string[];
	/** The checkpoint's vocabulary-sized tensors (embeddings, heads, head biases). */
	embedNames: Set<string>;
	/** Tensors stored before the layers (embeddings, position embeddings). */
	preNames: Set<string>;
	/** A head name → the tensor that stands in for it when the checkpoint ties them. */
	tied: Map<string, string>;
	/** Required tensors of the definition the checkpoint lacks. */
	missing: string[];
	/** Tensors the definition does not list (carried over by name). */
	unexpected: string[];
}

/** The spec with `prefix` removed from every name that has it (a checkpoint saved from the bare model class). */
function withoutPrefix(spec: ArchitectureSpec, prefix: string): ArchitectureSpec {
	const strip = (n: string) => (n.startsWith(prefix) ? n.slice(prefix.length) : n);
	const map = (ws: WeightSpec[]) =>
		ws.map((w) => ({ ...w, name: strip(w.name), ...(w.tiedTo !== undefined ? { tiedTo: strip(w.tiedTo) } : {}) }));
	return { ...spec, preWeights: map(spec.preWeights), layerWeights: map(spec.layerWeights), postWeights: map(spec.postWeights) };
}

function countHits(spec: ArchitectureSpec, layers: number, config: RawConfig | undefined, names: Set<string>): number {
	return expectedWeights(spec, layers, config).filter((w) => names.has(w.name)).length;
}

function highestLayer(names: readonly string[]): number {
	let max = -1;
	for (const n of names) max = Math.max(max, layerIndexOf(n) ?? -1);
	return max + 1;
}

/** A known family checked against a checkpoint's names. */
function resolveKnown(
	spec0: ArchitectureSpec,
	declared: string,
	config: RawConfig | undefined,
	names: readonly string[],
): ResolvedArchitecture {
	const set = new Set(names);
	const layerCount = configLayerCount(spec0, config) ?? highestLayer(names);
	let spec = spec0;
	if (spec0.baseModelPrefix !== undefined && !names.some((n) => n.startsWith(spec0.baseModelPrefix!))) {
		const bare = withoutPrefix(spec0, spec0.baseModelPrefix);
		if (countHits(bare, layerCount, config, set) > countHits(spec0, layerCount, config, set)) spec = bare;
	}
	const weights = expectedWeights(spec, layerCount, config);
	const listed = new Set(weights.map((w) => w.name));
	const tied = new Map<string, string>();
	for (const w of [...spec.preWeights, ...spec.postWeights]) if (w.tiedTo !== undefined) tied.set(w.name, w.tiedTo);
	return {
		spec,
		declared,
		layerCount,
		layerCountKeys: spec.layerCountKeys.filter((k) => typeof configValue(config, k) === "number"),
		vocabSizeKeys: spec.vocabSizeKeys.filter((k) => typeof configValue(config, k) === "number"),
		embedNames: new Set(weights.filter((w) => w.isEmbed === true).map((w) => w.name)),
		preNames: new Set(spec.preWeights.map((w) => w.name)),
		tied,
		missing: weights
			.filter((w) => w.optional !== true && !set.has(w.name) && !(w.tiedTo !== undefined && set.has(w.tiedTo)))
			.map((w) => w.name),
		unexpected: names.filter((n) => !listed.has(n)),
	};
}

/** An unknown family: layers grouped by index, embeddings and heads by their usual names. */
function resolveInferred(declared: string, config: RawConfig | undefined, names: readonly string[]): ResolvedArchitecture {
	const spec = detectArchitecture(undefined, names);
	const layerKeys = GENERIC_LAYER_KEYS.filter((k) => typeof configValue(config, k) === "number");
	const layerCount = firstIntegerKey(config, layerKeys)?.value ?? highestLayer(names);
	const nonLayer = names.filter((n) => layerIndexOf(n) === undefined);
	const embeds = nonLayer.filter((n) => moduleKindOf(n) === "embed");
	const tied = new Map<string, string>();
	const firstEmbed = embeds.find((n) => n.endsWith(".weight"));
	if (firstEmbed !== undefined && !nonLayer.some((n) => moduleKindOf(n) === "lm_head")) tied.set("lm_head.weight", firstEmbed);
	return {
		spec: { ...spec, name: declared },
		declared,
		layerCount,
		layerCountKeys: layerKeys,
		vocabSizeKeys: typeof configValue(config, "vocab_size") === "number" ? ["vocab_size"] : [],
		embedNames: new Set([...nonLayer.filter(isEmbedTensor), ...tied.keys()]),
		preNames: new Set(embeds),
		tied,
		missing: [],
		unexpected: [],
	};
}

/**
 * The architecture of one checkpoint: its family by config.json (see detectArchitecture), checked against its tensor
 * names; an unknown family is inferred from the names (`spec.known` is false: callers warn).
 */
export function resolveArchitecture(config: RawConfig | undefined, names: readonly string[]): ResolvedArchitecture {
	const hint = architectureHint(config);
	const declared = hint.architectures?.[0] ?? hint.modelType ?? "unknown";
	const spec = detectArchitecture(hint);
	return spec.known ? resolveKnown(spec, declared, config, names) : resolveInferred(declared, config, names);
}

/** "a, b, c, d and 3 more": a short list for one-line messages. */
export function listNames(names: readonly string[]): string {
	const shown = names.slice(0, MAX_LISTED_NAMES).join(", ");
	return names.length > MAX_LISTED_NAMES ? `${shown} and ${names.length - MAX_LISTED_NAMES} more` : shown;
}
