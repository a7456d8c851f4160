import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { TokenizerError } from "../errors.js";
import { TOKENIZER_CONFIG_JSON, TOKENIZER_JSON, type TokenizerJson } from "./tokenizer-files.js";
import type { Vocabulary } from "./vocabulary.js";

/**
 * Tokenizer files that describe a vocabulary some other way (SentencePiece model, slow-tokenizer vocab and merges,
 * the old added-tokens list): copied from the donor they would contradict a rebuilt tokenizer.json, so they are left
 * out; transformers loads the fast tokenizer from tokenizer.json alone.
 */
export const STALE_WHEN_REBUILT = ["tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json"] as const;

/**
 * tokenizer.json and tokenizer_config.json for a rebuilt vocabulary: the JSON as built, and the donor's config with
 * `added_tokens_decoder` listing exactly the output's added tokens (transformers reads special tokens from there).
 */
export function rebuiltTokenizerFiles(json: TokenizerJson, donorConfig: Record<string, unknown> | undefined): Map<string, string> {
	const files = new Map<string, string>();
	files.set(TOKENIZER_JSON, `${JSON.stringify(json, null, 2)}\n`);
	if (donorConfig !== undefined) {
		const decoder: Record<string, unknown> = {};
		for (const t of [...(json.added_tokens ?? [])].sort((a, b) => a.id - b.id)) {
			decoder[String(t.id)] = {
				content: t.content,
				lstrip: t.lstrip,
				normalized: t.normalized,
				rstrip: t.rstrip,
				single_word: t.single_word,
				special: t.special,
			};
		}
		files.set(TOKENIZER_CONFIG_JSON, `${JSON.stringify({ ...donorConfig, added_tokens_decoder: decoder }, null, 2)}\n`);
	}
	return files;
}

/**
 * Loads a built tokenizer.json with @huggingface/tokenizers and checks that every id maps to the token the merge
 * planned for it, so a tokenizer that would not load, or that disagrees with the embedding rows, is never written.
 */
export function checkBuiltTokenizer(
	json: TokenizerJson,
	config: Record<string, unknown> | undefined,
	vocab: Vocabulary,
	location: string,
): void {
	let hf: HfTokenizer;
	try {
		hf = new HfTokenizer(json as never, (config ?? {}) as never);
	} catch (e) {
		throw new TokenizerError("Invalid", location, `the merged tokenizer does not load: ${(e as Error).message}`);
	}
	for (const [id, token] of vocab.tokens) {
		const got = hf.id_to_token(id);
		if (got !== token)
			throw new TokenizerError(
				"Invalid",
				location,
				`the merged tokenizer maps id ${id} to ${JSON.stringify(got)}, not ${JSON.stringify(token)}`,
			);
	}
}
