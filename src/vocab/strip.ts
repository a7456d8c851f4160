import type { TokenizerJson } from "./tokenizer-files.js";
import { mergeParts, mergeResult, modelVocab } from "./vocabulary.js";

/**
 * A copy of tokenizer.json without the tokens whose id is `limit` or more (a model whose tokenizer lists more tokens
 * than its embedding has rows: mergekit's "stripped" tokenizer). BPE loses the merges that use or make a removed
 * token, Unigram its tail pieces, WordPiece/WordLevel the entries; added tokens past the limit go too.
 */
export function stripTokenizer(json: TokenizerJson, limit: number): { json: TokenizerJson; removed: string[] } {
	const out = structuredClone(json);
	const removed: string[] = [];
	const model = out.model;
	if (Array.isArray(model.vocab)) {
		for (const [piece] of model.vocab.slice(limit)) removed.push(piece);
		model.vocab = model.vocab.slice(0, limit);
	} else {
		const kept: Record<string, number> = {};
		for (const [token, id] of Object.entries(model.vocab)) {
			if (id < limit) kept[token] = id;
			else removed.push(token);
		}
		model.vocab = kept;
	}
	const gone = new Set(removed);
	const added = out.added_tokens ?? [];
	for (const t of added) if (t.id >= limit && !gone.has(t.content)) removed.push(t.content);
	if (out.added_tokens !== undefined) out.added_tokens = added.filter((t) => t.id < limit);
	if (model.type === "BPE" && model.merges !== undefined && gone.size > 0) {
		const kept = modelVocab(out);
		model.merges = model.merges.filter((m) => {
			const [a, b] = mergeParts(m);
			return kept.has(a) && kept.has(b) && kept.has(mergeResult(a, b, model.continuing_subword_prefix));
		});
	}
	return { json: out, removed };
}
