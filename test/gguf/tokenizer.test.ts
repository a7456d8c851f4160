/**
 * The tokenizer embedded in an exported GGUF: llama.cpp's own tokenization (node-llama-cpp's
 * model.tokenize) of every bundled sample prompt, built by the evaluator's prompt builder, equals
 * @huggingface/tokenizers' token for token — with the bundled tiny tokenizer (byte-fallback variant) and
 * with Mistral 7B v0.1's real vocabulary and merges (SentencePiece BPE with byte fallback).
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { planPrompts } from "../../src/eval/prompt.js";
import { loadTasks } from "../../src/eval/tasks/load-tasks.js";
import { loadTokenizer, type Tokenizer } from "../../src/eval/tokenizer.js";
import { TINY_BYTE_FALLBACK_VOCAB, tinyTokenizerFiles } from "../../src/fixtures/tiny-tokenizer.js";
import { exportGguf } from "../../src/gguf/export.js";
import { openGguf } from "../../src/gguf/reader.js";
import { consistencyIssues, ggufVocab } from "../../src/gguf/vocab.js";
import { mistralTokenizerJson, writeMistralTokenizer } from "../fixtures/eval/mistral-tokenizer.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { useTempDir } from "../helpers/fs.js";
import { loadGguf, testLlama } from "../helpers/llama.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-gguf-tok-");
const DATA = join(REPO_ROOT, "examples", "data");

/** Every prompt the evaluator builds from the bundled samples: 3-shot BioMistral and 0/3-shot harness, 3 seeds. */
async function samplePrompts(): Promise<string[]> {
	const files = (await readdir(DATA)).filter((f) => f.endsWith(".jsonl"));
	const prompts = new Set<string>();
	for (const f of files) {
		for (const shots of [0, 3]) {
			const { tasks } = await loadTasks({ data: join(DATA, f), shots, shotsFrom: join(DATA, f), skipBad: false });
			for (const mode of ["biomistral", "harness"] as const) {
				for (const p of planPrompts(tasks, [0, 1, 2], shots, mode)) {
					prompts.add(p.prompt);
					for (const c of p.harness?.choices ?? []) prompts.add(`${p.prompt} ${c}`);
				}
			}
		}
	}
	return [...prompts];
}

let prompts: string[] = [];
beforeAll(async () => {
	prompts = await samplePrompts();
});

afterAll(async () => {
	await (await testLlama()).dispose();
});

async function exported(dir: string): Promise<{ tok: Tokenizer; model: LlamaModel }> {
	const out = join(dir, "model.gguf");
	await exportGguf(dir, { type: "f16", out });
	return { tok: await loadTokenizer(dir), model: await loadGguf(out) };
}

function expectSameTokens(tok: Tokenizer, model: LlamaModel, texts: readonly string[]): void {
	for (const text of texts) {
		const hf = tok.encode(text, { addBos: false });
		const llama = [...model.tokenize(text, false)].map(Number);
		expect(llama, JSON.stringify(text.slice(0, 80))).toEqual(hf);
	}
}

describe("bundled sample prompts", () => {
	test("there are prompts, with letters, digits, punctuation and newlines", () => {
		expect(prompts.length).toBeGreaterThan(20);
		expect(prompts.some((p) => /\d/.test(p) && p.includes("\n") && p.includes("**Answer:**("))).toBe(true);
	});

	test("tiny tokenizer (byte fallback): llama.cpp tokenizes every prompt as Hugging Face does", { timeout: 120_000 }, async () => {
		const dir = join(root(), "tiny");
		await writeTinyMistral(dir, { seed: 1, vocab: TINY_BYTE_FALLBACK_VOCAB, byteFallback: true });
		const { tok, model } = await exported(dir);
		try {
			// "▁" (prepended), then the bytes of "Ü9": C3 9C 39.
			expect(tok.encode("Ü9", { addBos: false }).map((id) => tok.tokenString(id))).toEqual(["\u2581", "<0xC3>", "<0x9C>", "<0x39>"]);
			expectSameTokens(tok, model, prompts);
			expectSameTokens(tok, model, ["", " ", "  **  ", "Ünïcödé → 漢字 🙂", "a\n\nb", "The answer is (E)"]);
		} finally {
			await model.dispose();
		}
	});

	test("Mistral 7B v0.1's vocabulary and merges: llama.cpp tokenizes every prompt as Hugging Face does", { timeout: 300_000 }, async () => {
		const dir = join(root(), "mistral");
		await writeTinyMistral(dir, { seed: 2, vocab: 32000, hidden: 16, tokenizer: false });
		await writeMistralTokenizer(dir);
		const { tok, model } = await exported(dir);
		try {
			expectSameTokens(tok, model, prompts);
			expectSameTokens(tok, model, [
				"",
				"Ünïcödé → 漢字 🙂",
				"   leading spaces",
				"tabs\tand\r\nCRLF",
				"ST-segment elevation in leads II, III and aVF.",
			]);
		} finally {
			await model.dispose();
		}
	});
});

describe("the vocabulary's special tokens and scores", () => {
	test("Mistral: <unk> unknown, <s> </s> control, 256 byte tokens; scores rank merges; no inconsistent token", () => {
		const v = ggufVocab(mistralTokenizerJson(), { bos_token: "<s>", eos_token: "</s>", add_bos_token: true }, 32000, "mistral");
		expect([v.types[0], v.types[1], v.types[2]]).toEqual([2, 3, 3]);
		expect(v.types.filter((t) => t === 6).length).toBe(256);
		expect([v.bosId, v.eosId, v.unkId, v.addBos, v.addSpacePrefix, v.byteFallback]).toEqual([1, 2, 0, true, true, true]);
		expect(v.inconsistent).toEqual([]);
		// "▁t" is Mistral's first merge; "▁th" comes later.
		expect(v.scores[v.tokens.indexOf("\u2581t")]).toBeGreaterThan(v.scores[v.tokens.indexOf("\u2581th")]!);
	});

	test("a merge list that leaves a token reachable only by merge-by-score is reported", () => {
		const files = tinyTokenizerFiles(64) as { "tokenizer.json": { model: { merges: string[][] } } };
		const json = files["tokenizer.json"];
		const merges = json.model.merges.filter(([a, b]) => !(a === "\u2581" && b === "**"));
		const v = ggufVocab({ ...json, model: { ...json.model, merges } }, {}, 64, "tiny");
		expect(v.inconsistent).toEqual(["\u2581**"]);
		expect(
			consistencyIssues(
				v.tokens,
				v.types,
				merges.map(([a, b]) => [a!, b!]),
			),
		).toEqual(["\u2581**"]);
	});

	test("the exported tiny tokenizer without byte fallback carries a warning; its file still loads", async () => {
		const dir = join(root(), "tiny-nofallback");
		await writeTinyMistral(dir, { seed: 3 });
		const warnings: string[] = [];
		await exportGguf(dir, { type: "f32", out: join(dir, "m.gguf"), onEvent: (e) => e.event === "warning" && warnings.push(e.message) });
		expect(warnings.some((w) => w.includes("no byte fallback"))).toBe(true);
		const g = await openGguf(join(dir, "m.gguf"));
		expect(g.metadata.get("tokenizer.ggml.model")).toEqual({ kind: "string", value: "llama" });
		await g.close();
	});
});
