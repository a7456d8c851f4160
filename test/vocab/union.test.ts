import { Tokenizer } from "@huggingface/tokenizers";
import { describe, expect, test } from "vitest";
import { checkBuiltTokenizer } from "../../src/vocab/output-files.js";
import { planRows, ROW_DEFAULT, ROW_MEAN, type RowModel } from "../../src/vocab/row-plan.js";
import { stripTokenizer } from "../../src/vocab/strip.js";
import { checkTokenizerJson, type TokenizerJson } from "../../src/vocab/tokenizer-files.js";
import { addPlainTokens, unionTokenizer } from "../../src/vocab/union.js";
import { vocabularyOf } from "../../src/vocab/vocabulary.js";
import { baseFiles, chatmlFiles, extendedFiles } from "../helpers/tokenizers.js";

// biome-ignore lint/suspicious/noExplicitAny: JSON files read in tests are walked freely; a mismatch fails the assertion.
const tok = (files: Record<string, any>) => files["tokenizer.json"] as TokenizerJson;
const hf = (json: TokenizerJson) => new Tokenizer(json as never, {} as never);
const decode = (t: Tokenizer, id: number) => t.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false });

/** Every id of `out` decodes as its token does in the first source that has it. */
function expectSameDecoding(out: TokenizerJson, sources: TokenizerJson[]): void {
	const o = hf(out);
	const srcs = sources.map((s) => ({ t: hf(s), v: vocabularyOf(s) }));
	for (const [id, token] of vocabularyOf(out).tokens) {
		const s = srcs.find((x) => x.v.ids.has(token))!;
		expect(decode(o, id), `${id} ${JSON.stringify(token)}`).toBe(decode(s.t, s.v.ids.get(token)!));
	}
}

/** GPT-2's byte → printable character table (the byte-level alphabet), built the way GPT-2 defines it. */
function byteAlphabet(): string[] {
	const printable = [...range(33, 126), ...range(161, 172), ...range(174, 255)];
	const chars: string[] = new Array(256);
	let extra = 0;
	for (let b = 0; b < 256; b++) chars[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
	return chars;
}
function range(a: number, b: number): number[] {
	return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

function byteLevel(merges: Array<[string, string]>): TokenizerJson {
	const vocab: Record<string, number> = {};
	for (const c of byteAlphabet()) vocab[c] = Object.keys(vocab).length;
	for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
	return checkTokenizerJson(
		{
			version: "1.0",
			added_tokens: [
				{
					id: Object.keys(vocab).length,
					content: "<|endoftext|>",
					single_word: false,
					lstrip: false,
					rstrip: false,
					normalized: false,
					special: true,
				},
			],
			normalizer: null,
			pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
			post_processor: null,
			decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
			model: {
				type: "BPE",
				dropout: null,
				unk_token: null,
				continuing_subword_prefix: "",
				end_of_word_suffix: "",
				fuse_unk: false,
				byte_fallback: false,
				vocab,
				merges,
			},
		},
		"byte-level",
	);
}

function unigram(pieces: Array<[string, number]>): TokenizerJson {
	return checkTokenizerJson(
		{
			added_tokens: [{ id: 0, content: "<unk>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
			normalizer: null,
			pre_tokenizer: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true },
			post_processor: null,
			decoder: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true },
			model: { type: "Unigram", unk_id: 0, byte_fallback: false, vocab: [["<unk>", 0], ...pieces] },
		},
		"unigram",
	);
}

function wordPiece(tokens: string[]): TokenizerJson {
	return checkTokenizerJson(
		{
			added_tokens: [{ id: 0, content: "[UNK]", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
			normalizer: null,
			pre_tokenizer: { type: "BertPreTokenizer" },
			post_processor: null,
			decoder: { type: "WordPiece", prefix: "##", cleanup: true },
			model: {
				type: "WordPiece",
				unk_token: "[UNK]",
				continuing_subword_prefix: "##",
				max_input_chars_per_word: 100,
				vocab: Object.fromEntries(["[UNK]", ...tokens].map((t, i) => [t, i])),
			},
		},
		"wordpiece",
	);
}

describe("unionTokenizer", () => {
	test("byte-level BPE: new tokens join the model vocabulary with their merges, and decode and encode as in their model", () => {
		const base = byteLevel([
			["Ġ", "t"],
			["h", "e"],
			["Ġt", "he"],
		]);
		const other = byteLevel([
			["i", "n"],
			["Ġ", "in"],
			["h", "e"],
		]);
		const u = unionTokenizer(base, [{ name: "other", json: other, limit: 1000 }]);
		expect(u.warnings).toEqual([]);
		expect(u.added).toEqual(["in", "Ġin"]);
		const v = vocabularyOf(u.json);
		expect([v.ids.get("in"), v.ids.get("Ġin"), v.ids.get("<|endoftext|>")]).toEqual([260, 261, 259]);
		expect(u.json.model.merges!.slice(3)).toEqual([
			["i", "n"],
			["Ġ", "in"],
		]);
		expectSameDecoding(u.json, [base, other]);
		expect(decode(hf(u.json), 261)).toBe(" in");
		expect(hf(u.json).encode(" in the", { add_special_tokens: false }).ids).toEqual([261, 258]);
		checkBuiltTokenizer(u.json, undefined, v, "out");
	});

	test("Unigram: new pieces follow the base's, with their scores", () => {
		const base = unigram([
			["\u2581a", -1],
			["b", -2],
		]);
		const other = unigram([
			["b", -3],
			["\u2581c", -4],
			["d", -5],
		]);
		const u = unionTokenizer(base, [{ name: "other", json: other, limit: 10 }]);
		expect(u.json.model.vocab).toEqual([
			["<unk>", 0],
			["\u2581a", -1],
			["b", -2],
			["\u2581c", -4],
			["d", -5],
		]);
		expectSameDecoding(u.json, [base, other]);
		checkBuiltTokenizer(u.json, undefined, vocabularyOf(u.json), "out");
	});

	test("Unigram pieces cannot take ids an added token holds: they become added tokens, with a warning", () => {
		const base = unigram([["\u2581a", -1]]);
		base.added_tokens!.push({
			id: 2,
			content: "<extra>",
			single_word: false,
			lstrip: false,
			rstrip: false,
			normalized: false,
			special: true,
		});
		const u = unionTokenizer(base, [{ name: "other", json: unigram([["\u2581z", -1]]), limit: 10 }]);
		expect(u.json.added_tokens!.map((t) => [t.id, t.content])).toEqual([
			[0, "<unk>"],
			[2, "<extra>"],
			[3, "\u2581z"],
		]);
		expect(u.warnings.some((w) => w.includes("could not follow"))).toBe(true);
	});

	test("WordPiece: new entries, continuation pieces included", () => {
		const base = wordPiece(["hello", "##s"]);
		const other = wordPiece(["world", "##ing", "hello"]);
		const u = unionTokenizer(base, [{ name: "other", json: other, limit: 10 }]);
		expect(u.json.model.vocab).toEqual({ "[UNK]": 0, hello: 1, "##s": 2, world: 3, "##ing": 4 });
		expectSameDecoding(u.json, [base, other]);
	});

	test("a tokenizer of another kind: its tokens become added tokens (mergekit's way), with a warning", () => {
		const base = tok(baseFiles());
		const u = unionTokenizer(base, [{ name: "wp", json: wordPiece(["zebra"]), limit: 10 }]);
		expect(u.added).toEqual(["[UNK]", "zebra"]);
		expect(u.json.added_tokens!.slice(-2).map((t) => [t.id, t.content, t.special])).toEqual([
			[64, "[UNK]", true],
			[65, "zebra", false],
		]);
		expect(u.warnings.some((w) => w.includes("not of the base's kind"))).toBe(true);
	});

	test("tokens at or above a model's vocab_size are left out, with a warning", () => {
		const u = unionTokenizer(tok(baseFiles()), [{ name: "chatml", json: tok(chatmlFiles()), limit: 65 }]);
		expect(u.added).toEqual(["<|im_start|>"]);
		expect(u.warnings[0]).toContain("1 token(s)");
	});
});

describe("stripTokenizer and addPlainTokens", () => {
	test("stripping a BPE tokenizer drops the tokens, their merges and added tokens past the limit", () => {
		const json = tok(extendedFiles());
		const { json: out, removed } = stripTokenizer(json, 65);
		expect(removed.sort()).toEqual(["ou", "\u2581the"].sort());
		expect(out.model.merges!.some((m) => Array.isArray(m) && m.join("") === "\u2581the")).toBe(false);
		expect(out.model.merges).toHaveLength(json.model.merges!.length - 2);
		checkBuiltTokenizer(out, undefined, vocabularyOf(out), "out");
		expect(stripTokenizer(tok(chatmlFiles()), 64).removed).toEqual(["<|im_start|>", "<|im_end|>"]);
	});

	test("addPlainTokens appends missing tokens as non-special added tokens", () => {
		const { json, added } = addPlainTokens(tok(baseFiles()), ["a", "<new>", "<new>"]);
		expect(added).toEqual(["<new>"]);
		expect(json.added_tokens!.at(-1)).toEqual({
			id: 64,
			content: "<new>",
			single_word: false,
			lstrip: false,
			rstrip: false,
			normalized: true,
			special: false,
		});
	});

	test("checkBuiltTokenizer refuses a tokenizer whose ids disagree with the plan", () => {
		const json = tok(baseFiles());
		const v = vocabularyOf(json);
		v.tokens.set(5, "not-this");
		expect(() => checkBuiltTokenizer(json, undefined, v, "out")).toThrow(
			expect.objectContaining({ name: "TokenizerError", kind: "Invalid" }),
		);
	});
});

describe("planRows: where each output row comes from", () => {
	const vocab = (tokens: string[]) =>
		vocabularyOf(
			checkTokenizerJson({ model: { type: "WordLevel", vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), unk_token: "a" } }, "v"),
		);
	const out = vocab(["a", "b", "c", "d", "e"]);
	const models: RowModel[] = [
		{ model: 0, name: "base", vocab: vocab(["a", "b", "c"]), limit: 3 },
		{ model: 1, name: "x", vocab: vocab(["b", "a", "d"]), limit: 3 },
		{ model: 2, name: "y", vocab: vocab(["d", "a", "x"]), limit: 3 },
	];
	test("own rows; only one model has it → its row; the base's; else the mean; nobody → zeros (warned); padding → mean", () => {
		const p = planRows(
			out,
			models,
			0,
			[],
			4,
			new Map([
				[0, 3],
				[1, 3],
				[2, 3],
			]),
		);
		expect(p.rows).toBe(8);
		expect([...p.maps.get(0)!]).toEqual([0, 1, 2, ROW_DEFAULT, ROW_DEFAULT, ROW_MEAN, ROW_MEAN, ROW_MEAN]);
		expect([...p.maps.get(1)!]).toEqual([1, 0, ROW_DEFAULT, 2, ROW_DEFAULT, ROW_MEAN, ROW_MEAN, ROW_MEAN]);
		expect([...p.maps.get(2)!]).toEqual([1, ROW_DEFAULT, ROW_DEFAULT, 0, ROW_DEFAULT, ROW_MEAN, ROW_MEAN, ROW_MEAN]);
		expect(p.defaults.get(1)).toEqual([{ model: 0, row: 1 }]); // b: the base has it
		expect(p.defaults.get(2)).toEqual([{ model: 0, row: 2 }]); // c: only the base has it
		expect(p.defaults.get(3)).toEqual([
			{ model: 1, row: 2 },
			{ model: 2, row: 0 },
		]); // d: mean of x and y
		expect(p.defaults.get(4)).toEqual([]); // e: nobody
		expect(p.defaults.has(0)).toBe(false);
		expect(p.warnings[0]).toContain('"e"');
		expect(p.identity.size).toBe(0);
	});

	test("overrides: a forced source replaces every model's row; model_token by token; identity detection", () => {
		const p = planRows(
			vocab(["a", "b", "c"]),
			models.slice(0, 1),
			0,
			[{ token: "a", source: { kind: "model_token", model: 0, token: "c" }, force: true, path: "t" }],
			undefined,
			new Map([[0, 3]]),
		);
		expect([...p.maps.get(0)!]).toEqual([ROW_DEFAULT, 1, 2]);
		expect(p.defaults.get(0)).toEqual([{ model: 0, row: 2 }]);
		const same = planRows(vocab(["a", "b", "c"]), models.slice(0, 1), 0, [], undefined, new Map([[0, 3]]));
		expect([...same.identity]).toEqual([0]);
	});
});
