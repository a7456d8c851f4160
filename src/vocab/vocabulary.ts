import type { AddedTokenEntry, TokenizerJson } from "./tokenizer-files.js";

/** A tokenizer's vocabulary: its model's tokens and its added tokens, both ways. */
export interface Vocabulary {
	/** token → id, added tokens included (what transformers' `get_vocab()` returns). */
	ids: Map<string, number>;
	/** id → token. */
	tokens: Map<number, string>;
	/** The added tokens (specials, chat markers), by content. */
	added: Map<string, AddedTokenEntry>;
	/** One past the largest id. */
	size: number;
}

/** The tokens of tokenizer.json's model, token → id (a Unigram piece's id is its position). */
export function modelVocab(json: TokenizerJson): Map<string, number> {
	const v = json.model.vocab;
	if (Array.isArray(v)) return new Map(v.map(([piece], i) => [piece, i] as [string, number]));
	return new Map(Object.entries(v));
}

/** A normalised copy of an added-token entry (absent flags take tokenizers' defaults). */
export function addedEntry(t: Partial<AddedTokenEntry> & { id: number; content: string }): AddedTokenEntry {
	return {
		id: t.id,
		content: t.content,
		single_word: t.single_word ?? false,
		lstrip: t.lstrip ?? false,
		rstrip: t.rstrip ?? false,
		normalized: t.normalized ?? !(t.special ?? false),
		special: t.special ?? false,
	};
}

/** The vocabulary of a tokenizer.json: model tokens, then added tokens (an added token's id wins for its content). */
export function vocabularyOf(json: TokenizerJson): Vocabulary {
	const ids = modelVocab(json);
	const added = new Map<string, AddedTokenEntry>();
	for (const t of json.added_tokens ?? []) {
		added.set(t.content, addedEntry(t));
		ids.set(t.content, t.id);
	}
	const tokens = new Map<number, string>();
	let size = 0;
	for (const [token, id] of ids) {
		if (!tokens.has(id)) tokens.set(id, token);
		size = Math.max(size, id + 1);
	}
	return { ids, tokens, added, size };
}

/** The two tokens a BPE merge joins, from either serialisation ("a b" or [a, b]). */
export function mergeParts(m: string | [string, string]): [string, string] {
	if (Array.isArray(m)) return m;
	const space = m.indexOf(" ");
	return [m.slice(0, space), m.slice(space + 1)];
}

/** The token a BPE merge produces: a + b, without b's continuing-subword prefix when the model has one. */
export function mergeResult(a: string, b: string, prefix: string | null | undefined): string {
	return prefix != null && prefix !== "" && b.startsWith(prefix) ? a + b.slice(prefix.length) : a + b;
}
