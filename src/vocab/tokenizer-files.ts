import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { TokenizerError } from "../errors.js";

/** The fast-tokenizer file every Hugging Face checkpoint with a merged-able vocabulary ships. */
export const TOKENIZER_JSON = "tokenizer.json";
/** transformers' tokenizer settings: special tokens, `added_tokens_decoder`, chat template. */
export const TOKENIZER_CONFIG_JSON = "tokenizer_config.json";

/**
 * Largest tokenizer.json read into memory: the biggest common ones (Qwen, Gemma) are about 35 MB, so anything much
 * bigger is not a tokenizer.
 */
const MAX_TOKENIZER_JSON_BYTES = 128 * 1024 * 1024;

/** The tokenizer model kinds whose vocabulary lm-merge can read and edit. */
const TOKENIZER_MODEL_TYPES = ["BPE", "Unigram", "WordPiece", "WordLevel"] as const;
type TokenizerModelType = (typeof TOKENIZER_MODEL_TYPES)[number];

/** One `added_tokens` entry of tokenizer.json (also the shape of tokenizer_config.json's `added_tokens_decoder`). */
export interface AddedTokenEntry {
	id: number;
	content: string;
	single_word: boolean;
	lstrip: boolean;
	rstrip: boolean;
	normalized: boolean;
	special: boolean;
}

/** The `model` object of tokenizer.json, with the fields lm-merge reads; the rest is carried along untouched. */
interface TokenizerModelJson {
	type: TokenizerModelType;
	/** BPE, WordPiece, WordLevel: token → id. Unigram: [piece, score] pairs, the id being the position. */
	vocab: Record<string, number> | Array<[string, number]>;
	/** BPE only: "a b" strings (older files) or [a, b] pairs. */
	merges?: Array<string | [string, string]>;
	continuing_subword_prefix?: string | null;
	end_of_word_suffix?: string | null;
	[key: string]: unknown;
}

/** A parsed tokenizer.json. */
export interface TokenizerJson {
	added_tokens?: AddedTokenEntry[];
	normalizer?: unknown;
	pre_tokenizer?: unknown;
	decoder?: unknown;
	model: TokenizerModelJson;
	[key: string]: unknown;
}

/** A model folder's tokenizer: tokenizer.json (parsed and checked) and tokenizer_config.json when present. */
interface TokenizerFolder {
	dir: string;
	json: TokenizerJson;
	config: Record<string, unknown> | undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function readJson(file: string, required: boolean): Promise<unknown> {
	let size: number;
	try {
		size = (await stat(file)).size;
	} catch {
		if (required) throw new TokenizerError("NotFound", file, "not found (merging vocabularies needs each model's tokenizer.json)");
		return undefined;
	}
	if (size > MAX_TOKENIZER_JSON_BYTES)
		throw new TokenizerError("Invalid", file, `${size} bytes is larger than the ${MAX_TOKENIZER_JSON_BYTES}-byte limit`);
	try {
		return JSON.parse(await readFile(file, "utf8")) as unknown;
	} catch (e) {
		throw new TokenizerError("Invalid", file, `not valid JSON: ${(e as Error).message}`);
	}
}

/** Checks the parts of tokenizer.json lm-merge relies on; the message names the file and the bad field. */
export function checkTokenizerJson(json: unknown, file: string): TokenizerJson {
	if (!isRecord(json) || !isRecord(json.model)) throw new TokenizerError("Invalid", file, `has no "model" object`);
	const model = json.model;
	const type = model.type;
	if (typeof type !== "string" || !(TOKENIZER_MODEL_TYPES as readonly string[]).includes(type)) {
		throw new TokenizerError("Unsupported", file, `model type ${JSON.stringify(type)} is not one of ${TOKENIZER_MODEL_TYPES.join(", ")}`);
	}
	const vocab = model.vocab;
	const listOk = Array.isArray(vocab) && vocab.every((e) => Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "number");
	const mapOk = isRecord(vocab) && Object.values(vocab).every((id) => typeof id === "number" && Number.isInteger(id) && id >= 0);
	if (type === "Unigram" ? !listOk : !mapOk) throw new TokenizerError("Invalid", file, `model.vocab is not a valid ${type} vocabulary`);
	const added = json.added_tokens ?? [];
	if (
		!Array.isArray(added) ||
		!added.every((t) => isRecord(t) && typeof t.content === "string" && Number.isInteger(t.id) && (t.id as number) >= 0)
	) {
		throw new TokenizerError("Invalid", file, `added_tokens must be a list of {id, content, ...} entries`);
	}
	const merges = model.merges;
	if (
		type === "BPE" &&
		merges !== undefined &&
		!(Array.isArray(merges) && merges.every((m) => typeof m === "string" || (Array.isArray(m) && m.length === 2)))
	) {
		throw new TokenizerError("Invalid", file, `model.merges must be a list of "a b" strings or [a, b] pairs`);
	}
	return json as TokenizerJson;
}

/** Reads `dir`'s tokenizer.json (required) and tokenizer_config.json (optional). */
export async function readTokenizerFolder(dir: string): Promise<TokenizerFolder> {
	const jsonFile = join(dir, TOKENIZER_JSON);
	const json = checkTokenizerJson(await readJson(jsonFile, true), jsonFile);
	const config = await readJson(join(dir, TOKENIZER_CONFIG_JSON), false);
	return { dir, json, config: isRecord(config) ? config : undefined };
}

/** Whether `dir` holds a tokenizer.json. */
export async function hasTokenizerJson(dir: string): Promise<boolean> {
	return stat(join(dir, TOKENIZER_JSON)).then(
		(s) => s.isFile(),
		() => false,
	);
}
