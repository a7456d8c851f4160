import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { EvaluationError } from "../errors.js";
import { readRegularText } from "../io/regular-file.js";

/** The tokenizer file every Hugging Face checkpoint with a fast tokenizer ships. */
const TOKENIZER_FILE = "tokenizer.json";

/** Extra settings (add_bos_token, bos_token, …); optional, defaults apply when absent. */
const TOKENIZER_CONFIG_FILE = "tokenizer_config.json";

/**
 * Largest tokenizer.json we read into memory: the biggest common ones (Qwen, Gemma) are ~35 MB, so a
 * bigger file is almost certainly not a tokenizer.
 */
const MAX_TOKENIZER_BYTES = 128 * 1024 * 1024;

/** A checkpoint's tokenizer, reduced to what scoring needs. */
export interface Tokenizer {
	/** The folder or file it came from, for messages. */
	readonly location: string;
	/** One past the largest token id (added tokens included). */
	readonly vocabSize: number;
	/** The BOS token id, when the tokenizer has one. */
	readonly bosId: number | undefined;
	/** Whether encode() adds BOS by default (tokenizer_config.json `add_bos_token`, else the post-processor). */
	readonly addBosDefault: boolean;
	/** Token ids of `text`, no truncation; BOS prepended when `addBos` (default: addBosDefault). */
	encode(text: string, opts?: { addBos?: boolean }): number[];
	/** Text of a token sequence; special tokens are kept; an unknown id decodes to "". */
	decode(ids: number[]): string;
	/** The raw vocabulary string of one id (e.g. "▁A"), undefined when the id is unused. */
	tokenString(id: number): string | undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** tokenizer_config.json writes special tokens either as a string or as an AddedToken object. */
function tokenContent(v: unknown): string | undefined {
	if (typeof v === "string") return v;
	if (isRecord(v) && typeof v.content === "string") return v.content;
	return undefined;
}

/**
 * Builds a Tokenizer from parsed tokenizer.json and tokenizer_config.json objects.
 * Throws EvaluationError "Tokenizer" when the JSON is not a tokenizer the library understands.
 */
export function createTokenizer(tokenizerJson: unknown, config: unknown, location: string): Tokenizer {
	if (!isRecord(tokenizerJson) || !isRecord(tokenizerJson.model)) {
		throw new EvaluationError("Tokenizer", `${location}: ${TOKENIZER_FILE} has no "model" object`);
	}
	const cfg = isRecord(config) ? config : {};
	let hf: HfTokenizer;
	try {
		hf = new HfTokenizer(tokenizerJson, cfg);
	} catch (e) {
		throw new EvaluationError("Tokenizer", `${location}: cannot build the tokenizer: ${(e as Error).message}`);
	}
	let maxId = -1;
	for (const id of hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
	const bosText = tokenContent(cfg.bos_token) ?? "<s>";
	const bosId = hf.token_to_id(bosText);
	let addBosDefault: boolean;
	if (typeof cfg.add_bos_token === "boolean") {
		addBosDefault = cfg.add_bos_token;
	} else {
		const probe = hf.encode("a", { add_special_tokens: true }).ids;
		addBosDefault = bosId !== undefined && probe[0] === bosId;
	}
	return {
		location,
		vocabSize: maxId + 1,
		bosId,
		addBosDefault,
		encode(text, opts) {
			const ids = hf.encode(text, { add_special_tokens: false }).ids;
			if (!(opts?.addBos ?? addBosDefault)) return ids;
			if (bosId === undefined) {
				throw new EvaluationError("Tokenizer", `${location}: BOS requested but the tokenizer has no "${bosText}" token`);
			}
			return [bosId, ...ids];
		},
		decode(ids) {
			// Model vocabularies are often padded past the tokenizer's (32000 → 32768): such ids have no text.
			const known = ids.filter((id) => hf.id_to_token(id) !== undefined);
			if (known.length === 0) return "";
			return hf.decode(known, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
		},
		tokenString(id) {
			return hf.id_to_token(id);
		},
	};
}

async function readJsonFile(path: string, required: boolean): Promise<unknown> {
	let text: string;
	try {
		text = await readRegularText(path, {
			maxBytes: MAX_TOKENIZER_BYTES,
			fail: (why) => new EvaluationError("Tokenizer", `${path}: ${why}`),
		});
	} catch (err) {
		if (err instanceof EvaluationError) throw err;
		if (required) throw new EvaluationError("Tokenizer", `${path}: not found (the evaluator needs the checkpoint's ${TOKENIZER_FILE})`);
		return undefined;
	}
	try {
		return JSON.parse(text) as unknown;
	} catch (e) {
		throw new EvaluationError("Tokenizer", `${path}: invalid JSON: ${(e as Error).message}`);
	}
}

/** Loads `dir/tokenizer.json` (+ `tokenizer_config.json` when present) through @huggingface/tokenizers. */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
	const json = await readJsonFile(join(dir, TOKENIZER_FILE), true);
	const config = await readJsonFile(join(dir, TOKENIZER_CONFIG_FILE), false);
	return createTokenizer(json, config, dir);
}
