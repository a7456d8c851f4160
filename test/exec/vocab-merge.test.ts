/**
 * Merges with a tokenizer source (mergekit's `tokenizer_source: union | base | <model>` and the `tokenizer:` block),
 * end to end on tiny models: the output tokenizer decodes every id as its source model does, and every embedding and
 * head row was permuted, extended and padded as the spec says.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { mergeModels } from "../../src/exec/merge-models.js";
import { openModel } from "../../src/model/model-dir.js";
import type { ModelSource } from "../../src/model/model-source.js";
import { buildPlan, closePlan } from "../../src/plan/plan.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { expectClose } from "../helpers/close.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyArchitecture, writeTinyMistral } from "../helpers/tiny-model.js";
import { baseFiles, chatmlFiles, decodeOne, extendedFiles, loadHf, paddedFiles, writeTokenizerFiles } from "../helpers/tokenizers.js";

const root = useTempDir("lm-merge-vocab-merge-");

// biome-ignore lint/suspicious/noExplicitAny: JSON files read in tests are walked freely; a mismatch fails the assertion.
type Files = Record<string, Record<string, any>>;

/** A tiny model (F32, so rows compare exactly) with `rows` embedding rows and the given tokenizer files. */
async function model(name: string, seed: number, rows: number, files: Files): Promise<string> {
	const dir = join(root(), name);
	await writeTinyMistral(dir, { seed, vocab: rows, dtype: "F32", layers: 1 });
	await writeTokenizerFiles(dir, files);
	return dir;
}

async function withModels<T>(dirs: string[], fn: (...m: ModelSource[]) => Promise<T>): Promise<T> {
	const opened = await Promise.all(dirs.map((d) => openModel(d)));
	try {
		return await fn(...opened);
	} finally {
		await Promise.all(opened.map((m) => m.close()));
	}
}

/** Row `r` of a [rows, cols] tensor. */
async function row(m: ModelSource, tensor: string, r: number): Promise<Float32Array> {
	return (await m.readRows(tensor, r, r + 1)).data;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON files read in tests are walked freely; a mismatch fails the assertion.
async function json(dir: string, file: string): Promise<Record<string, any>> {
	// biome-ignore lint/suspicious/noExplicitAny: JSON files read in tests are walked freely; a mismatch fails the assertion.
	return JSON.parse(await readFile(join(dir, file), "utf8")) as Record<string, any>;
}

const linear = (a: string, b: string, extra: string, wa = 1, wb = 3) =>
	parseRecipe(
		`merge_method: linear\nbase_model: ${a}\nmodels:\n` +
			`  - model: ${a}\n    parameters: {weight: ${wa}}\n  - model: ${b}\n    parameters: {weight: ${wb}}\ndtype: float32\n${extra}`,
	);

describe("tokenizer_source: union", () => {
	test("base + chatml: 66 tokens; the chat markers' rows come from the chatml model; every id decodes as in its source", async () => {
		const a = await model("u-base", 1, 64, baseFiles());
		const b = await model("u-chatml", 2, 66, chatmlFiles());
		const out = join(root(), "u-out");
		await mergeModels(linear(a, b, "tokenizer_source: union\n"), { out, threads: 1 });
		expect((await json(out, "config.json")).vocab_size).toBe(66);
		const tok = await json(out, "tokenizer.json");
		expect(tok.added_tokens.map((t: { content: string }) => t.content)).toEqual(["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]);
		expect(Object.keys((await json(out, "tokenizer_config.json")).added_tokens_decoder)).toEqual(["0", "1", "2", "64", "65"]);
		const [ta, tb, to] = await Promise.all([loadHf(a), loadHf(b), loadHf(out)]);
		for (let id = 0; id < 66; id++) expect(decodeOne(to, id), `id ${id}`).toBe(decodeOne(id < 64 ? ta : tb, id));
		await withModels([a, b, out], async (ma, mb, mo) => {
			for (const tensor of ["model.embed_tokens.weight", "lm_head.weight"]) {
				expect(mo.info(tensor).shape).toEqual([66, 16]);
				// Shared tokens: the weighted mean. The chat markers: both models use the chatml rows, so the result is them.
				const x = await row(ma, tensor, 10);
				const y = await row(mb, tensor, 10);
				expectClose(
					await row(mo, tensor, 10),
					x.map((v, i) => (v + 3 * y[i]!) / 4),
					1e-6,
				);
				for (const id of [64, 65]) expectClose(await row(mo, tensor, id), await row(mb, tensor, id), 1e-6);
			}
		});
	});

	test("a model whose token ids are all elsewhere, with three more BPE tokens: rows follow the tokens, the new tokens encode", async () => {
		const a = await model("p-base", 3, 64, baseFiles());
		const b = await model("p-ext", 4, 67, extendedFiles());
		const out = join(root(), "p-out");
		const result = await mergeModels(linear(a, b, "tokenizer_source: union\n"), { out, threads: 1 });
		expect(result.warnings.filter((w) => !w.includes("does not use base_model"))).toEqual([]);
		const [ta, tb, to] = await Promise.all([loadHf(a), loadHf(b), loadHf(out)]);
		const vb = (await json(b, "tokenizer.json")).model.vocab as Record<string, number>;
		const vo = (await json(out, "tokenizer.json")).model.vocab as Record<string, number>;
		expect(Object.keys(vo)).toHaveLength(67);
		expect([vo["\u2581th"], vo["\u2581the"], vo.ou]).toEqual([64, 65, 66]);
		for (const [token, id] of Object.entries(vo))
			expect(decodeOne(to, id), token).toBe(id < 64 ? decodeOne(ta, id) : decodeOne(tb, vb[token]!));
		// The donor's merges came along: " the" is one token, as in the extended model.
		expect(to.encode("the", { add_special_tokens: false }).ids).toEqual([65]);
		expect(tb.encode("the", { add_special_tokens: false }).ids).toEqual([vb["\u2581the"]]);
		await withModels([a, b, out], async (ma, mb, mo) => {
			const t = "model.embed_tokens.weight";
			for (const token of ["a", "\u2581A", "es", "<s>"]) {
				const x = await row(ma, t, vo[token]!);
				const y = await row(mb, t, vb[token]!);
				expectClose(
					await row(mo, t, vo[token]!),
					x.map((v, i) => (v + 3 * y[i]!) / 4),
					1e-6,
				);
			}
			for (const token of ["\u2581th", "\u2581the", "ou"]) expectClose(await row(mo, t, vo[token]!), await row(mb, t, vb[token]!), 1e-6);
		});
	});

	test("identical tokenizers: nothing is rebuilt, the files are the donor's bytes", async () => {
		const a = await model("i-a", 5, 64, baseFiles());
		const b = await model("i-b", 6, 64, baseFiles());
		const plan = await buildPlan(linear(a, b, "tokenizer_source: union\n"));
		try {
			expect(plan.vocab).toMatchObject({ mode: "union", rows: 64, tokens: 64, added: [], files: undefined, omit: [] });
			expect(plan.jobs.some((j) => j.vocab !== undefined)).toBe(false);
		} finally {
			await closePlan(plan);
		}
	});

	test("threads do not change the bytes (the row maps cross to worker threads)", async () => {
		const a = await model("t-base", 7, 64, baseFiles());
		const b = await model("t-ext", 8, 67, extendedFiles());
		const one = join(root(), "t-1");
		const two = join(root(), "t-2");
		await mergeModels(linear(a, b, "tokenizer_source: union\n"), { out: one, threads: 1 });
		await mergeModels(linear(a, b, "tokenizer_source: union\n"), { out: two, threads: 2 });
		for (const f of (await readdir(one)).filter((n) => n.endsWith(".safetensors") || n.endsWith(".json"))) {
			expect((await readFile(join(one, f))).equals(await readFile(join(two, f))), f).toBe(true);
		}
	});
});

describe("other families and frankenmerges", () => {
	test("GPT-2 (head tied to wte, n_layer): a union resizes wte and sets vocab_size", async () => {
		const a = join(root(), "g-a");
		const b = join(root(), "g-b");
		await writeTinyArchitecture(a, "gpt2", { seed: 1, vocab: 64, dtype: "F32" });
		await writeTokenizerFiles(a, baseFiles());
		await writeTinyArchitecture(b, "gpt2", { seed: 2, vocab: 66, dtype: "F32" });
		await writeTokenizerFiles(b, chatmlFiles());
		const out = join(root(), "g-out");
		await mergeModels(linear(a, b, "tokenizer_source: union\n"), { out, threads: 1 });
		expect(await json(out, "config.json")).toMatchObject({ vocab_size: 66, n_layer: 2 });
		await withModels([a, b, out], async (ma, mb, mo) => {
			expect(mo.has("lm_head.weight")).toBe(false);
			expect(mo.info("transformer.wte.weight").shape).toEqual([66, 8]);
			expect(mo.info("transformer.wpe.weight").shape).toEqual(ma.info("transformer.wpe.weight").shape);
			expectClose(await row(mo, "transformer.wte.weight", 65), await row(mb, "transformer.wte.weight", 65), 1e-6);
		});
	});

	test("a frankenmerge with a union: the embeddings come from the first slice, missing rows from the model that has them", async () => {
		const a = await model("f-base", 19, 64, baseFiles());
		const b = await model("f-chatml", 20, 66, chatmlFiles());
		const out = join(root(), "f-out");
		const recipe = parseRecipe(
			`merge_method: passthrough\nslices:\n  - sources:\n      - model: ${a}\n        layer_range: [0, 1]\n` +
				`  - sources:\n      - model: ${b}\n        layer_range: [0, 1]\ntokenizer_source: union\ndtype: float32\n`,
		);
		await mergeModels(recipe, { out, threads: 1 });
		expect(await json(out, "config.json")).toMatchObject({ vocab_size: 66, num_hidden_layers: 2 });
		await withModels([a, b, out], async (ma, mb, mo) => {
			const e = "model.embed_tokens.weight";
			expectClose(await row(mo, e, 7), await row(ma, e, 7), 0);
			expectClose(await row(mo, e, 64), await row(mb, e, 64), 0);
			expectClose((await mo.read("lm_head.weight")).data, (await mb.read("lm_head.weight")).data, 0);
		});
	});
});

describe("tokenizer_source: base and a model", () => {
	test("base: tokens past the model's vocab_size are stripped from the tokenizer", async () => {
		const a = await model("b-padded", 9, 64, paddedFiles());
		const b = await model("b-other", 10, 64, baseFiles());
		const out = join(root(), "b-out");
		await mergeModels(linear(a, b, "tokenizer_source: base\n"), { out, threads: 1 });
		const vocab = (await json(out, "tokenizer.json")).model.vocab as Record<string, number>;
		expect(Object.keys(vocab)).toHaveLength(64);
		expect(Object.keys(vocab).some((t) => t.startsWith("<UNUSED"))).toBe(false);
		expect((await json(out, "config.json")).vocab_size).toBe(64);
	});

	test("model:X: the output takes X's tokenizer; models without its tokens get X's rows", async () => {
		const a = await model("m-base", 11, 64, baseFiles());
		const b = await model("m-chatml", 12, 66, chatmlFiles());
		const out = join(root(), "m-out");
		await mergeModels(linear(a, b, `tokenizer_source: model:${b}\n`), { out, threads: 1 });
		expect((await readFile(join(out, "tokenizer.json"))).equals(await readFile(join(b, "tokenizer.json")))).toBe(true);
		await withModels([b, out], async (mb, mo) => {
			expect(mo.info("model.embed_tokens.weight").shape).toEqual([66, 16]);
			expectClose(await row(mo, "lm_head.weight", 65), await row(mb, "lm_head.weight", 65), 1e-6);
		});
	});
});

describe("the tokenizer: block", () => {
	test("tokens: forced sources, zero rows, model_token by token and by id, and new tokens", async () => {
		const a = await model("k-base", 13, 64, baseFiles());
		const b = await model("k-chatml", 14, 66, chatmlFiles());
		const out = join(root(), "k-out");
		const extra = [
			"tokenizer:",
			"  source: union",
			"  tokens:",
			`    "<|im_start|>": {source: {kind: model_token, model: ${a}, token: "<s>"}, force: true}`,
			`    "<|im_end|>": {source: {kind: zero}, force: true}`,
			`    "a": {source: ${b}, force: true}`,
			`    "<new>": {source: {kind: model_token, model: ${a}, token_id: 5}}`,
			"",
		].join("\n");
		await mergeModels(linear(a, b, extra), { out, threads: 1 });
		const vo = await loadHf(out);
		expect(vo.token_to_id("<new>")).toBe(66);
		await withModels([a, b, out], async (ma, mb, mo) => {
			const t = "model.embed_tokens.weight";
			expectClose(await row(mo, t, 64), await row(ma, t, 1), 1e-6);
			expectClose(await row(mo, t, 65), new Float32Array(16), 0);
			const aId = vo.token_to_id("a")!;
			expectClose(await row(mo, t, aId), await row(mb, t, aId), 1e-6);
			expectClose(await row(mo, t, 66), await row(ma, t, 5), 1e-6);
		});
	});

	test("pad_to_multiple_of: 66 tokens → 80 rows; the padding rows are the mean of the token rows", async () => {
		const a = await model("pad-base", 15, 64, baseFiles());
		const b = await model("pad-chatml", 16, 66, chatmlFiles());
		const out = join(root(), "pad-out");
		await mergeModels(linear(a, b, "tokenizer:\n  source: union\n  pad_to_multiple_of: 16\n"), { out, threads: 1 });
		expect((await json(out, "config.json")).vocab_size).toBe(80);
		expect((await loadHf(out)).get_vocab(true).size).toBe(66);
		await withModels([out], async (mo) => {
			const e = await mo.read("model.embed_tokens.weight");
			expect(e.shape).toEqual([80, 16]);
			const mean = new Float32Array(16).map((_, c) => {
				let s = 0;
				for (let r = 0; r < 66; r++) s += e.data[r * 16 + c]!;
				return s / 66;
			});
			for (let r = 66; r < 80; r++) expectClose(e.data.subarray(r * 16, r * 16 + 16), mean, 1e-6);
		});
	});

	test("a token source that lacks the token, or a model outside the merge, fails before any tensor is read", async () => {
		const a = await model("e-base", 17, 64, baseFiles());
		const b = await model("e-chatml", 18, 66, chatmlFiles());
		await expect(buildPlan(linear(a, b, `tokenizer:\n  tokens:\n    "<|im_start|>": {source: ${a}}\n`))).rejects.toMatchObject({
			name: "TokenizerError",
			kind: "MissingToken",
		});
		await expect(
			buildPlan(linear(a, b, `tokenizer:\n  tokens:\n    "x": {source: {kind: model_token, model: ${a}, token_id: 99}}\n`)),
		).rejects.toMatchObject({ name: "TokenizerError", kind: "MissingToken" });
		await expect(buildPlan(linear(a, b, `tokenizer:\n  tokens:\n    "x": {source: /nowhere/model}\n`))).rejects.toMatchObject({
			name: "TokenizerError",
			kind: "Invalid",
		});
	});
});
