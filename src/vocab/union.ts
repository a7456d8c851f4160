import type { AddedTokenEntry, TokenizerJson } from "./tokenizer-files.js";
import { addedEntry, mergeParts, mergeResult, modelVocab, vocabularyOf } from "./vocabulary.js";

/** One input of a union: a model's tokenizer.json and how many of its ids its embeddings cover. */
interface UnionInput {
	/** The model as the recipe names it, for messages. */
	name: string;
	json: TokenizerJson;
	/** Tokens with an id at or above this (config.json's vocab_size) are not part of the model. */
	limit: number;
}

/** Whether a donor's model tokens can join the base's model vocabulary (same kind, same subword spelling). */
function sameModelKind(base: TokenizerJson, donor: TokenizerJson): boolean {
	const a = base.model;
	const b = donor.model;
	if (a.type !== b.type) return false;
	if (a.type !== "BPE") return true;
	return (
		(a.continuing_subword_prefix ?? null) === (b.continuing_subword_prefix ?? null) &&
		(a.end_of_word_suffix ?? null) === (b.end_of_word_suffix ?? null)
	);
}

function sameText(base: TokenizerJson, donor: TokenizerJson): boolean {
	const key = (j: TokenizerJson) => JSON.stringify([j.normalizer ?? null, j.pre_tokenizer ?? null, j.decoder ?? null]);
	return key(base) === key(donor);
}

/** Appends a model-vocabulary token with the given id (a Unigram piece keeps its donor's score). */
function addModelToken(json: TokenizerJson, token: string, id: number, score: number): void {
	const v = json.model.vocab;
	if (Array.isArray(v)) v.push([token, score]);
	else v[token] = id;
}

/**
 * The union tokenizer (mergekit's `tokenizer_source: union`): `base` (already stripped to its model's rows) plus, in
 * model order, every token another model has below its `limit` and the output lacks. The base's ids never move; new
 * tokens get the next ids: model tokens first (into the model vocabulary, with the BPE merges that build them, so they
 * encode as in their model), then added tokens (with their flags; the first model's win). A token whose model
 * tokenizer is of another kind (Unigram next to BPE, other subword markers), or a Unigram piece that cannot take the
 * next position, becomes a plain added token instead, as mergekit makes every new token; a warning says so.
 */
export function unionTokenizer(
	base: TokenizerJson,
	others: readonly UnionInput[],
): { json: TokenizerJson; added: string[]; warnings: string[] } {
	const out = structuredClone(base);
	const warnings: string[] = [];
	const outVocab = vocabularyOf(out);
	let next = outVocab.size;
	const newModel: Array<{ token: string; donor: number; score: number }> = [];
	const newAdded: AddedTokenEntry[] = [];
	const seen = new Set(outVocab.ids.keys());
	others.forEach((o, donor) => {
		const v = vocabularyOf(o.json);
		const scores = Array.isArray(o.json.model.vocab) ? new Map(o.json.model.vocab.map(([p, s]) => [p, s] as [string, number])) : undefined;
		const beyond = [...v.ids.values()].filter((id) => id >= o.limit).length;
		if (beyond > 0)
			warnings.push(`${o.name}: ${beyond} token(s) of its tokenizer have ids at or above its vocab_size ${o.limit}; they are left out`);
		const compatible = sameModelKind(out, o.json);
		if (!sameText(out, o.json))
			warnings.push(
				`${o.name}: its tokenizer normalizes, splits or decodes text differently from the base's; its tokens are added as they are`,
			);
		let fallback = 0;
		for (const [token, id] of [...v.ids].sort((x, y) => x[1] - y[1])) {
			if (id >= o.limit) continue;
			const mine = v.added.get(token);
			const existing = outVocab.added.get(token);
			if (mine !== undefined && existing !== undefined && JSON.stringify({ ...mine, id: 0 }) !== JSON.stringify({ ...existing, id: 0 })) {
				warnings.push(`${o.name}: added token ${JSON.stringify(token)} has other settings than in the base; the base's are kept`);
			}
			if (seen.has(token)) continue;
			seen.add(token);
			if (mine !== undefined) newAdded.push(mine);
			else if (compatible) newModel.push({ token, donor, score: scores?.get(token) ?? 0 });
			else {
				fallback++;
				newAdded.push(addedEntry({ id: 0, content: token, special: false, normalized: true }));
			}
		}
		if (fallback > 0)
			warnings.push(
				`${o.name}: its tokenizer is not of the base's kind (${o.json.model.type} vs ${out.model.type}); ` +
					`its ${fallback} new token(s) become added tokens`,
			);
	});
	const unigramTail = Array.isArray(out.model.vocab) ? out.model.vocab.length : next;
	const added: string[] = [];
	const placed = new Set<string>();
	for (const t of newModel) {
		if (Array.isArray(out.model.vocab) && next !== unigramTail + placed.size) {
			newAdded.push(addedEntry({ id: 0, content: t.token, special: false, normalized: true }));
			continue;
		}
		addModelToken(out, t.token, next++, t.score);
		placed.add(t.token);
		added.push(t.token);
	}
	if (newModel.length > placed.size)
		warnings.push(
			`${newModel.length - placed.size} Unigram piece(s) could not follow the base's pieces (its added tokens hold those ids); ` +
				`they become added tokens`,
		);
	addBpeMerges(out, others, placed);
	for (const t of newAdded) {
		out.added_tokens ??= [];
		out.added_tokens.push({ ...t, id: next++ });
		added.push(t.content);
	}
	return { json: out, added, warnings };
}

/** The donors' merges that build the new model tokens, appended after the base's (so the base's tokenization wins). */
function addBpeMerges(out: TokenizerJson, others: readonly UnionInput[], placed: Set<string>): void {
	if (out.model.type !== "BPE" || placed.size === 0) return;
	const vocab = modelVocab(out);
	out.model.merges ??= [];
	const merges = out.model.merges;
	const asPairs = merges.length > 0 ? Array.isArray(merges[0]) : true;
	const have = new Set(merges.map((m) => mergeParts(m).join("\u0000")));
	for (const o of others) {
		if (o.json.model.type !== "BPE" || !sameModelKind(out, o.json)) continue;
		for (const m of o.json.model.merges ?? []) {
			const [a, b] = mergeParts(m);
			const key = `${a}\u0000${b}`;
			if (have.has(key) || !placed.has(mergeResult(a, b, out.model.continuing_subword_prefix)) || !vocab.has(a) || !vocab.has(b)) continue;
			have.add(key);
			merges.push(asPairs ? [a, b] : `${a} ${b}`);
		}
	}
}

/** Adds `tokens` missing from the tokenizer as plain added tokens (mergekit's `add_tokens` for `tokenizer.tokens`). */
export function addPlainTokens(json: TokenizerJson, tokens: readonly string[]): { json: TokenizerJson; added: string[] } {
	const out = structuredClone(json);
	const v = vocabularyOf(out);
	let next = v.size;
	const added: string[] = [];
	for (const token of tokens) {
		if (v.ids.has(token) || added.includes(token)) continue;
		out.added_tokens ??= [];
		out.added_tokens.push(addedEntry({ id: next++, content: token, special: false, normalized: true }));
		added.push(token);
	}
	return { json: out, added };
}
