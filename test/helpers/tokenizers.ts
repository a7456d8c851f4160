/**
 * Tokenizer variants for the vocabulary-merging tests, derived from the tiny Mistral-style tokenizer (64 tokens:
 * `<unk>`, `<s>`, `</s>`, then characters and merge results).
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { tinyTokenizerFiles } from "../../src/fixtures/tiny-tokenizer.js";

// biome-ignore lint/suspicious/noExplicitAny: JSON files read in tests are walked freely; a mismatch fails the assertion.
type Json = Record<string, any>;

/** The tiny tokenizer's three files for exactly its 64 tokens. */
export function baseFiles(): Record<string, Json> {
	return structuredClone(tinyTokenizerFiles(64)) as Record<string, Json>;
}

function special(content: string, id: number, isSpecial = true): Json {
	return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: !isSpecial, special: isSpecial };
}

/** The tokenizer plus chat markers as added tokens at ids 64 and 65 (mergekit's "chatml" fixture): 66 tokens. */
export function chatmlFiles(): Record<string, Json> {
	const f = baseFiles();
	const added = [special("<|im_start|>", 64), special("<|im_end|>", 65)];
	f["tokenizer.json"]!.added_tokens.push(...added);
	for (const a of added) f["tokenizer_config.json"]!.added_tokens_decoder[String(a.id)] = { ...a, id: undefined };
	return f;
}

/** Tokens the "extended" tokenizer adds to the model vocabulary, with the merges that build them. */
export const EXTENDED_MERGES: Array<[string, string]> = [
	["\u2581", "th"],
	["\u2581th", "e"],
	["o", "u"],
];

/**
 * Another model's tokenizer over the same text rules: its non-special tokens in reverse id order (so every row of its
 * embeddings sits elsewhere), plus three model tokens (`▁th`, `▁the`, `ou`) and their merges: 67 tokens.
 */
export function extendedFiles(): Record<string, Json> {
	const f = baseFiles();
	const model = f["tokenizer.json"]!.model;
	const entries = Object.entries(model.vocab as Record<string, number>).sort((a, b) => a[1] - b[1]);
	const vocab: Record<string, number> = {};
	const specials = entries.slice(0, 3);
	const rest = entries.slice(3).reverse();
	for (const [t, i] of specials) vocab[t] = i;
	rest.forEach(([t], k) => {
		vocab[t] = 3 + k;
	});
	let next = 64;
	for (const [a, b] of EXTENDED_MERGES) vocab[a + b] = next++;
	model.vocab = vocab;
	model.merges = [...model.merges, ...EXTENDED_MERGES];
	return f;
}

/** The tokenizer with four placeholder tokens past a 64-row embedding (mergekit's "padded" fixture): 68 tokens. */
export function paddedFiles(): Record<string, Json> {
	const f = baseFiles();
	for (let i = 0; i < 4; i++) f["tokenizer.json"]!.model.vocab[`<UNUSED_${i}>`] = 64 + i;
	return f;
}

/** Replaces a model folder's tokenizer files. */
export async function writeTokenizerFiles(dir: string, files: Record<string, Json>): Promise<void> {
	for (const [name, value] of Object.entries(files)) await writeFile(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
}

/** A folder's tokenizer through @huggingface/tokenizers. */
export async function loadHf(dir: string): Promise<Tokenizer> {
	const json = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")) as Json;
	const config = JSON.parse(await readFile(join(dir, "tokenizer_config.json"), "utf8").catch(() => "{}")) as Json;
	return new Tokenizer(json as never, config as never);
}

/** The text of one id, special tokens kept (what "decodes the same" compares). */
export function decodeOne(t: Tokenizer, id: number): string {
	return t.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
}
