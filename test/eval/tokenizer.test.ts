import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import mistral from "mistral-tokenizer-js";
import { beforeAll, describe, expect, test } from "vitest";
import { EvaluationError } from "../../src/errors.js";
import { letterOfTokenId, letterTokenIds } from "../../src/eval/letters.js";
import { BIOMISTRAL_HEADER, harnessRequest } from "../../src/eval/prompt.js";
import { createTokenizer, loadTokenizer, type Tokenizer } from "../../src/eval/tokenizer.js";
import { MISTRAL_TOKENIZER_CONFIG, mistralTokenizerJson, writeMistralTokenizer } from "../fixtures/eval/mistral-tokenizer.js";
import { useTempDir } from "../helpers/fs.js";

const dir = useTempDir("lm-merge-tok-");
let tok: Tokenizer;

beforeAll(async () => {
	await writeMistralTokenizer(join(dir(), "mistral"));
	tok = await loadTokenizer(join(dir(), "mistral"));
});

describe("Mistral v0.1 tokenizer rebuilt from mistral-tokenizer-js", () => {
	test("vocabulary size and BOS come from the files", () => {
		expect(tok.vocabSize).toBe(32000);
		expect(tok.bosId).toBe(1);
		expect(tok.addBosDefault).toBe(true);
	});

	test("the ids the spec names", () => {
		expect(tok.tokenString(28741)).toBe("A");
		expect(tok.tokenString(330)).toBe("▁A");
		expect(tok.tokenString(68)).toBe("<0x41>");
		expect(tok.tokenString(28732)).toBe("(");
		expect(tok.encode("(", { addBos: false })).toEqual([325]); // "▁(": the normalizer prepends ▁
		const ids = tok.encode("**Answer:**(");
		expect(ids[0]).toBe(1);
		expect(ids.at(-1)).toBe(28732);
		expect(ids).toEqual(mistral.encode("**Answer:**("));
	});

	test("a whole prompt tokenizes like the reference implementation and decodes back", () => {
		const prompt = `${BIOMISTRAL_HEADER}**Question:** What is 2+2? \n (A) 3 \n (B) 4 \n **Answer:**(`;
		const ids = tok.encode(prompt);
		expect(ids).toEqual(mistral.encode(prompt));
		expect(tok.decode(ids.slice(1))).toBe(prompt);
	});

	test("addBos: false drops BOS only", () => {
		const withBos = tok.encode("Hello world!");
		expect(tok.encode("Hello world!", { addBos: false })).toEqual(withBos.slice(1));
		expect(withBos).toEqual([1, 22557, 1526, 28808]);
	});

	test("ids outside the tokenizer's vocabulary decode to nothing (padded model vocabularies)", () => {
		expect(tok.decode([32500])).toBe("");
		expect(tok.tokenString(32500)).toBeUndefined();
	});
});

test("harness split: the continuation is what context + choice adds; trailing context spaces move to it", () => {
	const plain = harnessRequest(tok, "Answer:", " A", false);
	expect(plain.context).toEqual(tok.encode("Answer:", { addBos: false }));
	expect(plain.continuation).toEqual([330]);
	const spaced = harnessRequest(tok, "Answer: ", "A", true);
	expect(spaced.context).toEqual(tok.encode("Answer:"));
	expect(spaced.continuation).toEqual([330]);
});

describe("letterTokenIds", () => {
	test("every id whose single-token decode is the letter, found by decoding the whole vocabulary", () => {
		const map = letterTokenIds(tok);
		expect(map.A).toEqual([68, 330, 28741]);
		expect(map.B).toEqual([69, 365, 28760]);
		expect(Object.keys(map)).toEqual(["A", "B", "C", "D", "E"]);
		for (const [letter, ids] of Object.entries(map)) {
			for (const id of ids) expect(tok.decode([id])).toBe(letter);
		}
		const reverse = letterOfTokenId(map);
		expect(reverse.get(330)).toBe("A");
		expect(reverse.get(28760)).toBe("B");
		expect(reverse.has(1)).toBe(false);
	});
});

describe("loading errors and config", () => {
	test("missing tokenizer.json is kind Tokenizer", async () => {
		await expect(loadTokenizer(join(dir(), "nowhere"))).rejects.toMatchObject({ kind: "Tokenizer" });
	});

	test("invalid JSON is kind Tokenizer", async () => {
		const bad = join(dir(), "bad");
		await mkdir(bad, { recursive: true });
		await writeFile(join(bad, "tokenizer.json"), "{ not json");
		await expect(loadTokenizer(bad)).rejects.toBeInstanceOf(EvaluationError);
		await expect(loadTokenizer(bad)).rejects.toMatchObject({ kind: "Tokenizer" });
	});

	test("a JSON object without a model is kind Tokenizer", () => {
		expect(() => createTokenizer({ version: "1.0" }, {}, "x")).toThrow(expect.objectContaining({ kind: "Tokenizer" }));
	});

	test("add_bos_token: false in tokenizer_config.json turns BOS off by default", () => {
		const t = createTokenizer(mistralTokenizerJson(), { ...MISTRAL_TOKENIZER_CONFIG, add_bos_token: false }, "x");
		expect(t.addBosDefault).toBe(false);
		expect(t.encode("A")).toEqual([330]);
		expect(t.encode("A", { addBos: true })).toEqual([1, 330]);
	});

	test("without add_bos_token the post-processor decides", () => {
		const t = createTokenizer(mistralTokenizerJson(), {}, "x");
		expect(t.addBosDefault).toBe(true);
		expect(t.bosId).toBe(1);
	});
});
