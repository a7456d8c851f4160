import type { ArchitectureSpec, ConfigCondition, ConfigValue, RepeatSpec, WeightSpec } from "./types.js";

/** A parsed config.json (any family): the raw object, as read. */
export type RawConfig = Readonly<Record<string, unknown>>;

function isRecord(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value at a dotted key (`vocab_size`, `text_config.num_hidden_layers`), or undefined. */
export function configValue(config: RawConfig | undefined, key: string): unknown {
	let v: unknown = config;
	for (const part of key.split(".")) {
		if (!isRecord(v) || !Object.hasOwn(v, part)) return undefined;
		v = v[part];
	}
	return v;
}

/** Sets a dotted key in place; false when a parent object is missing. */
export function setConfigValue(config: Record<string, unknown>, key: string, value: unknown): boolean {
	const parts = key.split(".");
	let v: unknown = config;
	for (const part of parts.slice(0, -1)) {
		if (!isRecord(v) || !isRecord(v[part])) return false;
		v = v[part];
	}
	(v as Record<string, unknown>)[parts[parts.length - 1]!] = value;
	return true;
}

/** The first key of `keys` whose value is a non-negative integer, with that value. */
export function firstIntegerKey(config: RawConfig | undefined, keys: readonly string[]): { key: string; value: number } | undefined {
	for (const key of keys) {
		const v = configValue(config, key);
		if (typeof v === "number" && Number.isInteger(v) && v >= 0) return { key, value: v };
	}
	return undefined;
}

/** A condition's value: config.json's, else the family's default for that key, else the condition's, else null. */
function conditionValue(spec: ArchitectureSpec, config: RawConfig | undefined, c: ConfigCondition): ConfigValue {
	const v = configValue(config, c.key);
	if (v !== undefined) return v as ConfigValue;
	const fallback = spec.configDefaults?.[c.key];
	if (fallback !== undefined) return fallback;
	return c.default ?? null;
}

function holds(spec: ArchitectureSpec, config: RawConfig | undefined, c: ConfigCondition): boolean {
	const wanted = Array.isArray(c.is) ? (c.is as readonly ConfigValue[]) : [c.is as ConfigValue];
	return wanted.includes(conditionValue(spec, config, c));
}

/** Whether a weight exists in a model with this config (its `when` all hold, its `unless` not all). */
export function weightPresent(spec: ArchitectureSpec, w: WeightSpec, config: RawConfig | undefined): boolean {
	if (w.when !== undefined && !w.when.every((c) => holds(spec, config, c))) return false;
	if (w.unless !== undefined && w.unless.length > 0 && w.unless.every((c) => holds(spec, config, c))) return false;
	return true;
}

/** How many copies a repeated weight has in a model with this config (0 when nothing says). */
export function repeatCount(r: RepeatSpec, config: RawConfig | undefined): number {
	const keys = typeof r.key === "string" ? [r.key] : r.key;
	return firstIntegerKey(config, keys)?.value ?? r.default ?? 0;
}

/** Whether config.json ties lm_head to the embeddings (`tie_word_embeddings`, else the family's default). */
export function tiesEmbeddings(spec: ArchitectureSpec, config: RawConfig | undefined): boolean {
	const v = configValue(config, "tie_word_embeddings");
	return typeof v === "boolean" ? v : spec.tiedEmbeddingsByDefault;
}

/** The layer count config.json states under one of the family's keys, or undefined. */
export function configLayerCount(spec: ArchitectureSpec, config: RawConfig | undefined): number | undefined {
	return firstIntegerKey(config, spec.layerCountKeys)?.value;
}
