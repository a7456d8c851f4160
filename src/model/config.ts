import { join } from "node:path";
import { ModelError } from "../errors.js";
import { readRegularText } from "../io/regular-file.js";

/** The file name Hugging Face uses for a model's configuration. */
const CONFIG_FILE = "config.json";

/** A config.json is a few kilobytes; 16 MiB leaves room for any real one and keeps a stray huge file out of memory. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** rope_theta when config.json omits it: the value Llama and Mistral v0.1 were trained with. */
const DEFAULT_ROPE_THETA = 10000;

/** rms_norm_eps when config.json omits it: the transformers MistralConfig / LlamaConfig default. */
const DEFAULT_RMS_NORM_EPS = 1e-6;

/** A typed view of a Llama/Mistral-family config.json; `raw` keeps every key so it can be patched and re-written. */
export interface ModelConfig {
	architectures: string[];
	modelType: string | undefined;
	hiddenSize: number;
	intermediateSize: number;
	numHiddenLayers: number;
	numAttentionHeads: number;
	numKeyValueHeads: number;
	headDim: number;
	vocabSize: number;
	rmsNormEps: number;
	ropeTheta: number;
	slidingWindow: number | null;
	tieWordEmbeddings: boolean;
	torchDtype: string | undefined;
	raw: Record<string, unknown>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reads config keys with one-line errors that name the file, the key and the bad value. */
class ConfigReader {
	constructor(
		private readonly raw: Record<string, unknown>,
		private readonly file: string,
	) {}

	fail(key: string, want: string): never {
		const got = JSON.stringify(this.raw[key]) ?? "undefined";
		throw new ModelError("InvalidConfig", this.file, `"${key}" must be ${want}, got ${got}`);
	}

	/** A positive integer; `fallback` applies when the key is absent or null. */
	positiveInt(key: string, fallback?: number): number {
		const v = this.raw[key];
		if ((v === undefined || v === null) && fallback !== undefined) return fallback;
		if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) this.fail(key, "a positive integer");
		return v;
	}

	positiveNumber(key: string, fallback: number): number {
		const v = this.raw[key];
		if (v === undefined || v === null) return fallback;
		if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) this.fail(key, "a positive number");
		return v;
	}

	optionalString(key: string): string | undefined {
		const v = this.raw[key];
		if (v === undefined || v === null) return undefined;
		if (typeof v !== "string") this.fail(key, "a string");
		return v;
	}

	boolean(key: string, fallback: boolean): boolean {
		const v = this.raw[key];
		if (v === undefined || v === null) return fallback;
		if (typeof v !== "boolean") this.fail(key, "true or false");
		return v;
	}

	stringList(key: string): string[] {
		const v = this.raw[key];
		if (v === undefined || v === null) return [];
		if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) this.fail(key, "a list of strings");
		return v as string[];
	}
}

/**
 * Validates a parsed config.json of a Llama/Mistral-family model. Defaults: num_key_value_heads = heads,
 * head_dim = hidden_size / heads, rope_theta 10000, sliding_window null, tie_word_embeddings false.
 * Throws ModelError "InvalidConfig" naming `file` and the key.
 */
export function parseModelConfig(json: unknown, file: string): ModelConfig {
	if (!isRecord(json)) throw new ModelError("InvalidConfig", file, `config must be a JSON object, got ${JSON.stringify(json)}`);
	const r = new ConfigReader(json, file);
	const hiddenSize = r.positiveInt("hidden_size");
	const numAttentionHeads = r.positiveInt("num_attention_heads");
	const numKeyValueHeads = r.positiveInt("num_key_value_heads", numAttentionHeads);
	if (numAttentionHeads % numKeyValueHeads !== 0) {
		r.fail("num_key_value_heads", `a divisor of num_attention_heads (${numAttentionHeads})`);
	}
	if (json.head_dim == null && hiddenSize % numAttentionHeads !== 0) {
		r.fail("hidden_size", `a multiple of num_attention_heads (${numAttentionHeads}) when head_dim is absent`);
	}
	const slidingWindow = json.sliding_window == null ? null : r.positiveInt("sliding_window");
	const rope = json.rope_parameters;
	const ropeFallback = isRecord(rope) && typeof rope.rope_theta === "number" ? rope.rope_theta : DEFAULT_ROPE_THETA;
	return {
		architectures: r.stringList("architectures"),
		modelType: r.optionalString("model_type"),
		hiddenSize,
		intermediateSize: r.positiveInt("intermediate_size"),
		numHiddenLayers: r.positiveInt("num_hidden_layers"),
		numAttentionHeads,
		numKeyValueHeads,
		headDim: r.positiveInt("head_dim", hiddenSize / numAttentionHeads),
		vocabSize: r.positiveInt("vocab_size"),
		rmsNormEps: r.positiveNumber("rms_norm_eps", DEFAULT_RMS_NORM_EPS),
		ropeTheta: r.positiveNumber("rope_theta", ropeFallback),
		slidingWindow,
		tieWordEmbeddings: r.boolean("tie_word_embeddings", false),
		// transformers ≥ 4.56 writes "dtype"; older versions "torch_dtype".
		torchDtype: r.optionalString("torch_dtype") ?? r.optionalString("dtype"),
		raw: json,
	};
}

/** config.json as read: the raw object (any family) and, when it describes a Llama/Mistral-style model, the typed view. */
interface ConfigFile {
	raw: Record<string, unknown> | undefined;
	config: ModelConfig | undefined;
}

/**
 * Families whose config.json must give the typed view (the evaluator runs them), and configs that name no family:
 * for these a missing or malformed key is an error when the model is opened. Any other family's config is kept raw
 * (merging reads its keys through its architecture definition) and typed only when it happens to fit.
 */
const TYPED_MODEL_TYPES = ["llama", "mistral"];
const TYPED_ARCHITECTURES = ["LlamaForCausalLM", "MistralForCausalLM"];

function mustBeTyped(raw: Record<string, unknown>): boolean {
	const modelType = raw.model_type;
	const archs = Array.isArray(raw.architectures) ? (raw.architectures as unknown[]) : [];
	if (modelType === undefined && archs.length === 0) return true;
	return (
		(typeof modelType === "string" && TYPED_MODEL_TYPES.includes(modelType)) ||
		archs.some((a) => typeof a === "string" && TYPED_ARCHITECTURES.includes(a))
	);
}

/** Reads `<dir>/config.json` (both undefined when the folder has none); see ConfigFile. */
export async function readConfigFile(dir: string): Promise<ConfigFile> {
	const file = join(dir, CONFIG_FILE);
	let text: string;
	try {
		text = await readRegularText(file, { maxBytes: MAX_CONFIG_BYTES, fail: (why) => new ModelError("InvalidConfig", file, why) });
	} catch (err) {
		if (err instanceof ModelError) throw err;
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return { raw: undefined, config: undefined };
		throw new ModelError("InvalidConfig", file, `cannot read: ${(err as Error).message}`);
	}
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (err) {
		throw new ModelError("InvalidConfig", file, `not valid JSON: ${(err as Error).message}`);
	}
	if (!isRecord(json)) throw new ModelError("InvalidConfig", file, `config must be a JSON object, got ${JSON.stringify(json)}`);
	if (mustBeTyped(json)) return { raw: json, config: parseModelConfig(json, file) };
	try {
		return { raw: json, config: parseModelConfig(json, file) };
	} catch (err) {
		if (err instanceof ModelError) return { raw: json, config: undefined };
		throw err;
	}
}

/** Reads and parses `<dir>/config.json` as a Llama/Mistral-family config; undefined when the folder has none. */
export async function readModelConfig(dir: string): Promise<ModelConfig | undefined> {
	const { raw, config } = await readConfigFile(dir);
	if (raw !== undefined && config === undefined) return parseModelConfig(raw, join(dir, CONFIG_FILE));
	return config;
}
