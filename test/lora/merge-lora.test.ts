/**
 * `model+adapter` as a merge input: the reference resolves both parts like any model reference (paths, the Hugging
 * Face cache), and merging it gives the same bytes as merging the model with the adapter merged in beforehand, for
 * whole-tensor and streamed kernels, in this thread and in worker threads.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, expect, test } from "vitest";
import { ModelError, PlanError } from "../../src/errors.js";
import { mergeModels } from "../../src/exec/merge-models.js";
import { ShardedWriter } from "../../src/io/sharded-writer.js";
import { extractLoraAdapter } from "../../src/lora/extract-folder.js";
import { openModelWithAdapter } from "../../src/lora/open.js";
import { resolveModelWithAdapter } from "../../src/model/adapter-ref.js";
import { openModel } from "../../src/model/model-dir.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";
import { embeddingNames, loraNames, randn, writeAdapter } from "../helpers/lora.js";
import { writeHfCacheModel, writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-lora-merge-");
const SHAPE = { layers: 2, hidden: 16, intermediate: 32, heads: 4, kvHeads: 2, vocab: 64, tokenizer: false, dtype: "BF16" } as const;
let base: string;
let other: string;
let adapter: string;
let materialized: string;

/** Writes what `path+adapter` reads as an ordinary model folder (the "merge the adapter first" route). */
async function materialize(model: string, adapterDir: string, out: string): Promise<void> {
	const src = await openModelWithAdapter({ path: model, adapter: adapterDir });
	try {
		const names = src.names();
		const writer = await ShardedWriter.create(
			out,
			names.map((n) => ({ name: n, dtype: src.info(n).dtype, shape: src.info(n).shape })),
			{ maxShardBytes: Number.MAX_SAFE_INTEGER, metadata: {} },
		);
		for (const n of names) await writer.writeTensor(n, await src.readRaw(n));
		await writer.writeFile("config.json", JSON.stringify(src.config!.raw, null, 2));
		await writer.commit();
	} finally {
		await src.close();
	}
}

async function tensorBytes(dir: string): Promise<Record<string, string>> {
	const m = await openModel(dir);
	try {
		return Object.fromEntries(
			await Promise.all(m.names().map(async (n) => [n, Buffer.from(await m.readRaw(n)).toString("base64")] as const)),
		);
	} finally {
		await m.close();
	}
}

beforeAll(async () => {
	base = path.join(root(), "base");
	other = path.join(root(), "other");
	await writeTinyMistral(base, { ...SHAPE, seed: 1 });
	await writeTinyMistral(other, { ...SHAPE, seed: 2, base, delta: 0.01 });
	const q = "model.layers.1.self_attn.q_proj";
	const up = "model.layers.0.mlp.up_proj";
	adapter = await writeAdapter(path.join(root(), "adapter"), { r: 4, lora_alpha: 8 }, [
		{ name: loraNames(q).a, shape: [4, 16], data: randn("qa", 64) },
		{ name: loraNames(q).b, shape: [16, 4], data: randn("qb", 64) },
		{ name: loraNames(up).a, shape: [4, 16], data: randn("ua", 64) },
		{ name: loraNames(up).b, shape: [32, 4], data: randn("ub", 128) },
		{ name: embeddingNames("model.embed_tokens").a, shape: [4, 64], data: randn("ea", 256) },
		{ name: embeddingNames("model.embed_tokens").b, shape: [16, 4], data: randn("eb", 64) },
	]);
	materialized = path.join(root(), "materialized");
	await materialize(base, adapter, materialized);
});

test.each([
	["slerp", "merge_method: slerp\nbase_model: BASE\nmodels:\n  - model: OTHER\nparameters: {t: 0.4}\n", 1, undefined],
	[
		"ties, streamed in chunks, two worker threads",
		"merge_method: ties\nbase_model: OTHER\nmodels:\n  - model: BASE\n    parameters: {weight: 1, density: 0.5}\n",
		2,
		48,
	],
	[
		"linear, streamed",
		"merge_method: linear\nmodels:\n  - model: BASE\n    parameters: {weight: 0.3}\n  - model: OTHER\n    parameters: {weight: 0.7}\n",
		1,
		40,
	],
] as const)("%s: base+adapter merges to the same bytes as the adapter merged in first", async (name, text, threads, chunkElements) => {
	const tag = name.replace(/\W+/g, "-");
	const opts = { threads, ...(chunkElements !== undefined ? { chunkElements } : {}) };
	const withAdapter = path.join(root(), `out-lora-${tag}`);
	const viaFolder = path.join(root(), `out-mat-${tag}`);
	await mergeModels(parseRecipe(text.replace("BASE", `${base}+${adapter}`).replace("OTHER", other)), { out: withAdapter, ...opts });
	await mergeModels(parseRecipe(text.replace("BASE", materialized).replace("OTHER", other)), { out: viaFolder, ...opts });
	const got = await tensorBytes(withAdapter);
	expect(got).toEqual(await tensorBytes(viaFolder));
	// The adapter did change the merge.
	const plain = path.join(root(), `out-plain-${tag}`);
	await mergeModels(parseRecipe(text.replace("BASE", base).replace("OTHER", other)), { out: plain, ...opts });
	expect(got).not.toEqual(await tensorBytes(plain));
});

test("an output folder that is (or is inside) the adapter folder is refused, even with force", async () => {
	const text = `merge_method: linear\nmodels:\n  - model: ${base}+${adapter}\n    parameters: {weight: 1}\n`;
	for (const out of [adapter, path.join(adapter, "sub")]) {
		const err = await rejected(mergeModels(parseRecipe(text), { out, force: true }), PlanError);
		expect(err.kind).toBe("OutputInsideInput");
	}
	const err = await rejected(extractLoraAdapter(base, other, { rank: 2, out: other, force: true }), PlanError);
	expect(err.kind).toBe("OutputInsideInput");
	const still = await openModel(other);
	expect(still.names().length).toBeGreaterThan(0);
	await still.close();
});

test("model+adapter resolves each side like a model reference: paths and Hugging Face cache ids", async () => {
	const cache = path.join(root(), "hf");
	const model = await writeHfCacheModel(cache, "org/tiny", { ...SHAPE, seed: 3 });
	const snap = path.join(cache, "models--org--tiny-lora", "snapshots", "c0ffee");
	await writeAdapter(snap, { r: 4, lora_alpha: 8 }, [
		{ name: loraNames("model.layers.0.mlp.up_proj").a, shape: [4, 16], data: randn("ua", 64) },
		{ name: loraNames("model.layers.0.mlp.up_proj").b, shape: [32, 4], data: randn("ub", 128) },
	]);
	await mkdir(path.join(cache, "models--org--tiny-lora", "refs"), { recursive: true });
	await writeFile(path.join(cache, "models--org--tiny-lora", "refs", "main"), "c0ffee");
	// Offline: nothing here may reach the network (a missing repo id is then NotFound, not a Hub request).
	const env = { HF_HUB_CACHE: cache, HOME: root(), HF_HUB_OFFLINE: "1" };
	const r = await resolveModelWithAdapter("org/tiny+org/tiny-lora", { env, cwd: root() });
	expect([r.model.via, r.model.path, r.adapter?.via, r.adapter?.path]).toEqual(["hf-cache", model.dir, "hf-cache", snap]);
	const p = await resolveModelWithAdapter(`${base}+${adapter}`, { env, cwd: root() });
	expect([p.model.path, p.adapter?.path]).toEqual([base, adapter]);
	expect((await resolveModelWithAdapter(base, { env })).adapter).toBeUndefined();
	const err = await rejected(resolveModelWithAdapter("a+b+c", { env, cwd: root() }), ModelError);
	expect(err.message).toContain("malformed LoRA reference");
	expect((await rejected(resolveModelWithAdapter(`${base}+nope/missing`, { env, cwd: root() }), ModelError)).kind).toBe("NotFound");
});
