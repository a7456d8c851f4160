/**
 * A Hugging Face tokenizer.json (SentencePiece-style BPE, as Llama 1/2 and Mistral ship it) → llama.cpp's
 * `llama` (SentencePiece) tokenizer in GGUF metadata. llama.cpp's SentencePiece tokenizer repeatedly merges
 * the adjacent pair whose concatenation has the highest score; Hugging Face's BPE merges the pair with the
 * lowest merge rank. Scoring each token by minus the rank of the first merge that produces it makes the two
 * agree for vocabularies whose merges were derived from SentencePiece scores (every split of a token into
 * two vocabulary tokens is a merge, ranked with the token): consistencyIssues() lists the tokens where a
 * tokenizer.json breaks that rule.
 */
import { GgufError } from "../errors.js";
import { type GgufValue, gguf } from "./metadata.js";

/** llama.cpp's token types (tokenizer.ggml.token_type). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** The GGUF form of a tokenizer. */
export interface GgufVocab {
	tokens: string[];
	scores: Float32Array;
	types: Int32Array;
	bosId: number | undefined;
	eosId: number | undefined;
	unkId: number | undefined;
	padId: number | undefined;
	addBos: boolean;
	addEos: boolean;
	addSpacePrefix: boolean;
	byteFallback: boolean;
	chatTemplate: string | undefined;
	/** Tokens llama.cpp's merging can reach but the BPE merges cannot (empty for a SentencePiece-derived file). */
	inconsistent: string[];
}

const SPACE = "\u2581";
const BYTE_TOKEN = /^<0x[0-9A-F]{2}>$/;

function isRecord(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

function tokenContent(v: unknown): string | undefined {
	if (typeof v === "string") return v;
	if (isRecord(v) && typeof v.content === "string") return v.content;
	return undefined;
}

/** Whether the normalizer / pre-tokenizer pair is the SentencePiece one ("▁" for spaces, "▁" prepended). */
function spaceHandling(json: Record<string, unknown>, where: string): { addSpacePrefix: boolean } {
	const norm = json.normalizer;
	const pre = json.pre_tokenizer;
	const list = (n: unknown): Record<string, unknown>[] =>
		n === null || n === undefined
			? []
			: isRecord(n) && n.type === "Sequence" && Array.isArray(n.normalizers)
				? (n.normalizers as Record<string, unknown>[])
				: [n as Record<string, unknown>];
	let prepend = false;
	let replaces = false;
	for (const n of list(norm)) {
		if (n.type === "Prepend" && n.prepend === SPACE) prepend = true;
		else if (n.type === "Replace" && isRecord(n.pattern) && n.pattern.String === " " && n.content === SPACE) replaces = true;
		else throw new GgufError("UnsupportedTokenizer", where, `normalizer "${String(n.type)}" has no llama.cpp SentencePiece equivalent`);
	}
	if (pre !== null && pre !== undefined) {
		if (!isRecord(pre) || pre.type !== "Metaspace") {
			const type = isRecord(pre) ? String(pre.type) : JSON.stringify(pre);
			throw new GgufError(
				"UnsupportedTokenizer",
				where,
				`pre-tokenizer "${type}" is not SentencePiece-style (byte-level BPE such as Llama 3's needs the gpt2 tokenizer, not exported yet)`,
			);
		}
		if (pre.split === true)
			throw new GgufError(
				"UnsupportedTokenizer",
				where,
				`a Metaspace pre-tokenizer with split: true has no llama.cpp SentencePiece equivalent`,
			);
		replaces = true;
		prepend =
			pre.prepend_scheme === "always" ||
			pre.prepend_scheme === "first" ||
			(pre.prepend_scheme === undefined && pre.add_prefix_space !== false);
	}
	if (!replaces)
		throw new GgufError("UnsupportedTokenizer", where, `spaces are not replaced by "${SPACE}": not a SentencePiece-style tokenizer`);
	return { addSpacePrefix: prepend };
}

/** Merges as [left, right] pairs, from either the list-of-pairs or the "left right" string form. */
function parseMerges(raw: unknown, where: string): Array<[string, string]> {
	if (!Array.isArray(raw)) throw new GgufError("UnsupportedTokenizer", where, "model.merges is not a list");
	return raw.map((m, i) => {
		if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") return [m[0], m[1]];
		if (typeof m === "string") {
			const cut = m.indexOf(" ", 1);
			if (cut > 0) return [m.slice(0, cut), m.slice(cut + 1)];
		}
		throw new GgufError("UnsupportedTokenizer", where, `model.merges[${i}] is not a pair of strings`);
	});
}

/**
 * Builds the GGUF vocabulary of `vocabRows` tokens (the model's embedding rows; rows the tokenizer does not
 * name become unused `[PAD<i>]` tokens). `config` is tokenizer_config.json (or undefined).
 */
export function ggufVocab(tokenizerJson: unknown, config: unknown, vocabRows: number, where: string): GgufVocab {
	if (!isRecord(tokenizerJson) || !isRecord(tokenizerJson.model))
		throw new GgufError("UnsupportedTokenizer", where, `tokenizer.json has no "model" object`);
	const model = tokenizerJson.model;
	if (model.type !== "BPE")
		throw new GgufError(
			"UnsupportedTokenizer",
			where,
			`tokenizer model "${String(model.type)}" is not exported (only SentencePiece-style BPE)`,
		);
	if (!isRecord(model.vocab)) throw new GgufError("UnsupportedTokenizer", where, "model.vocab is not an object");
	const { addSpacePrefix } = spaceHandling(tokenizerJson, where);
	const cfg = isRecord(config) ? config : {};
	const tokens: (string | undefined)[] = new Array<string | undefined>(vocabRows);
	const types = new Int32Array(vocabRows).fill(TokenType.NORMAL);
	const place = (text: string, id: unknown) => {
		if (typeof id !== "number" || !Number.isInteger(id) || id < 0)
			throw new GgufError("UnsupportedTokenizer", where, `token ${JSON.stringify(text)} has id ${JSON.stringify(id)}`);
		if (id >= vocabRows)
			throw new GgufError(
				"UnsupportedTokenizer",
				where,
				`token ${JSON.stringify(text)} has id ${id}, but the model has only ${vocabRows} embedding rows`,
			);
		tokens[id] = text;
	};
	for (const [text, id] of Object.entries(model.vocab)) place(text, id);
	const byteFallback = model.byte_fallback === true;
	for (let id = 0; id < vocabRows; id++) if (BYTE_TOKEN.test(tokens[id] ?? "")) types[id] = TokenType.BYTE;
	for (const t of Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : []) {
		if (!isRecord(t) || typeof t.content !== "string") continue;
		place(t.content, t.id);
		types[t.id as number] = t.special === true ? TokenType.CONTROL : TokenType.USER_DEFINED;
	}
	const idOf = new Map<string, number>();
	for (const [i, t] of tokens.entries()) if (t !== undefined && !idOf.has(t)) idOf.set(t, i);
	const unkText = typeof model.unk_token === "string" ? model.unk_token : tokenContent(cfg.unk_token);
	const unkId = unkText !== undefined ? idOf.get(unkText) : undefined;
	if (unkId !== undefined) types[unkId] = TokenType.UNKNOWN;
	for (let id = 0; id < vocabRows; id++) {
		if (tokens[id] === undefined) {
			tokens[id] = `[PAD${id}]`;
			types[id] = TokenType.UNUSED;
		}
	}

	const merges = parseMerges(model.merges, where);
	const rank = new Map<string, number>();
	merges.forEach(([a, b], r) => {
		if (!rank.has(a + b)) rank.set(a + b, r);
	});
	// Merge results score -rank (earlier merges win); everything else scores below every merge.
	const scores = new Float32Array(vocabRows);
	const floor = -(merges.length + 1);
	for (let id = 0; id < vocabRows; id++) scores[id] = rank.get(tokens[id]!) !== undefined ? -rank.get(tokens[id]!)! : floor;

	const special = (key: string, fallback?: string) => {
		const text = tokenContent(cfg[key]) ?? fallback;
		return text !== undefined ? idOf.get(text) : undefined;
	};
	const bosId = special("bos_token", "<s>");
	return {
		tokens: tokens as string[],
		scores,
		types,
		bosId,
		eosId: special("eos_token", "</s>"),
		unkId,
		padId: special("pad_token"),
		addBos: typeof cfg.add_bos_token === "boolean" ? cfg.add_bos_token : bosId !== undefined,
		addEos: cfg.add_eos_token === true,
		addSpacePrefix,
		byteFallback,
		chatTemplate: typeof cfg.chat_template === "string" ? cfg.chat_template : undefined,
		inconsistent: consistencyIssues(tokens as string[], types, merges),
	};
}

/**
 * Normal tokens that llama.cpp's merge-by-score can build from two vocabulary tokens although no BPE merge
 * does (e.g. a token made only by "▁*"+"*" when "▁"+"**" is not a merge but "**" is): on text that
 * contains them, llama.cpp's tokenization differs from Hugging Face's.
 */
export function consistencyIssues(tokens: readonly string[], types: Int32Array, merges: ReadonlyArray<[string, string]>): string[] {
	const vocab = new Set<string>();
	for (const [i, t] of tokens.entries()) if (types[i] === TokenType.NORMAL) vocab.add(t);
	const mergeSet = new Set(merges.map(([a, b]) => `${a}\u0000${b}`));
	const out: string[] = [];
	for (const t of vocab) {
		const chars = [...t];
		for (let cut = 1; cut < chars.length; cut++) {
			const left = chars.slice(0, cut).join("");
			const right = chars.slice(cut).join("");
			if (vocab.has(left) && vocab.has(right) && !mergeSet.has(`${left}\u0000${right}`)) {
				out.push(t);
				break;
			}
		}
	}
	return out;
}

/** The tokenizer.ggml.* metadata entries of a vocabulary. */
export function vocabMetadata(v: GgufVocab): Array<[string, GgufValue]> {
	const out: Array<[string, GgufValue]> = [
		["tokenizer.ggml.model", gguf.str("llama")],
		["tokenizer.ggml.tokens", gguf.strings(v.tokens)],
		["tokenizer.ggml.scores", gguf.f32s(v.scores)],
		["tokenizer.ggml.token_type", gguf.i32s(v.types)],
	];
	if (v.bosId !== undefined) out.push(["tokenizer.ggml.bos_token_id", gguf.u32(v.bosId)]);
	if (v.eosId !== undefined) out.push(["tokenizer.ggml.eos_token_id", gguf.u32(v.eosId)]);
	if (v.unkId !== undefined) out.push(["tokenizer.ggml.unknown_token_id", gguf.u32(v.unkId)]);
	if (v.padId !== undefined) out.push(["tokenizer.ggml.padding_token_id", gguf.u32(v.padId)]);
	out.push(["tokenizer.ggml.add_bos_token", gguf.bool(v.addBos)]);
	out.push(["tokenizer.ggml.add_eos_token", gguf.bool(v.addEos)]);
	out.push(["tokenizer.ggml.add_space_prefix", gguf.bool(v.addSpacePrefix)]);
	if (v.chatTemplate !== undefined) out.push(["tokenizer.chat_template", gguf.str(v.chatTemplate)]);
	return out;
}
