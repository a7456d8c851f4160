import { type ArchitectureSpec, type ConfigCondition, type ConfigValue, LAYER_INDEX_PLACEHOLDER, type WeightSpec } from "./types.js";

/** A family definition as written in families/: everything but what defineArchitecture derives. */
export type ArchitectureDefinition = Omit<ArchitectureSpec, "known" | "numLayersKey">;

/** A spec from a family definition: checks it is well formed (a mistake here is a programming error). */
export function defineArchitecture(def: ArchitectureDefinition): ArchitectureSpec {
	const first = def.layerCountKeys[0];
	if (first === undefined) throw new Error(`architecture ${def.name}: layerCountKeys is empty`);
	if (def.architectures.length === 0 && def.modelTypes.length === 0) throw new Error(`architecture ${def.name}: nothing selects it`);
	const names = new Set<string>();
	for (const w of [...def.preWeights, ...def.layerWeights, ...def.postWeights]) {
		const key = `${w.name}|${JSON.stringify(w.when ?? null)}|${JSON.stringify(w.unless ?? null)}`;
		if (names.has(key)) throw new Error(`architecture ${def.name}: weight ${w.name} is listed twice`);
		names.add(key);
	}
	for (const w of def.layerWeights) {
		if (!w.name.includes(LAYER_INDEX_PLACEHOLDER))
			throw new Error(`architecture ${def.name}: layer weight ${w.name} has no ${LAYER_INDEX_PLACEHOLDER}`);
	}
	return { ...def, numLayersKey: first, known: true };
}

/** A per-layer entry: a suffix such as "mlp.c_fc.weight", or a WeightSpec whose name is such a suffix. */
type LayerEntry = string | WeightSpec;

/** The layer templates `<prefix>.${layer_index}.<suffix>` of a family whose layers live under `prefix`. */
export function layerTemplates(prefix: string, entries: readonly LayerEntry[]): WeightSpec[] {
	return entries.map((e) => {
		const w = typeof e === "string" ? { name: e } : e;
		return { ...w, name: `${prefix}.${LAYER_INDEX_PLACEHOLDER}.${w.name}` };
	});
}

/** `<module>.weight` and `<module>.bias` (a LayerNorm, or a Linear with bias), sharing the extra fields. */
export function weightAndBias(module: string, extra: Omit<WeightSpec, "name"> = {}): WeightSpec[] {
	return [
		{ ...extra, name: `${module}.weight` },
		{ ...extra, name: `${module}.bias` },
	];
}

/** `<module>.weight`, plus `<module>.bias` when `biasWhen` holds (a Linear whose bias a config flag switches on). */
export function linear(module: string, biasWhen: readonly ConfigCondition[], extra: Omit<WeightSpec, "name"> = {}): WeightSpec[] {
	return [
		{ ...extra, name: `${module}.weight` },
		{ ...extra, name: `${module}.bias`, when: [...(extra.when ?? []), ...biasWhen] },
	];
}

/** A condition: config value at `key` (or `fallback` when absent) is `value`. */
export function configIs(key: string, value: ConfigValue | readonly ConfigValue[], fallback?: ConfigValue): ConfigCondition {
	return fallback === undefined ? { key, is: value } : { key, is: value, default: fallback };
}

/** The vocabulary-sized input embedding. */
export function embedding(name: string): WeightSpec {
	return { name, isEmbed: true };
}

/** The output head: vocabulary-sized, absent from checkpoints that tie it to `embeddingName`. */
export function tiedHead(name: string, embeddingName: string): WeightSpec {
	return { name, isEmbed: true, optional: true, tiedTo: embeddingName };
}

/**
 * The decoder layer most families copied from Llama: `input_layernorm`, `self_attn.{q,k,v,o}_proj`,
 * `post_attention_layernorm`, `mlp.{gate,up,down}_proj` (weights only), under `model.layers`.
 */
export const LLAMA_LAYER: readonly string[] = [
	"input_layernorm.weight",
	"self_attn.q_proj.weight",
	"self_attn.k_proj.weight",
	"self_attn.v_proj.weight",
	"self_attn.o_proj.weight",
	"post_attention_layernorm.weight",
	"mlp.gate_proj.weight",
	"mlp.up_proj.weight",
	"mlp.down_proj.weight",
];
