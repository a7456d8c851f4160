/**
 * LoRA extraction: from a model that IS base + a rank-R delta, rank R gives error ~0 (float32 rounding: below 1e-5
 * relative per module) and the extracted adapter, applied to the base, reproduces the model within that error; a
 * lower rank reports the error its written factors really have; the PEFT files and config are right.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, expect, test } from "vitest";
import { LoraError } from "../../src/errors.js";
import { ShardedWriter } from "../../src/io/sharded-writer.js";
import { openAdapter } from "../../src/lora/adapter.js";
import { extractLoraAdapter } from "../../src/lora/extract-folder.js";
import { openModelWithAdapter } from "../../src/lora/open.js";
import { openModel } from "../../src/model/model-dir.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";
import { embeddingNames, loraNames, randn, writeAdapter } from "../helpers/lora.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-lora-extract-");
const SHAPE = { layers: 2, hidden: 16, intermediate: 32, heads: 4, kvHeads: 2, vocab: 64, tokenizer: false, dtype: "F32" } as const;
const TOUCHED = ["model.embed_tokens", "model.layers.0.self_attn.q_proj", "model.layers.1.mlp.up_proj"];
let base: string;
let tuned: string;
let noisy: string;

beforeAll(async () => {
	base = path.join(root(), "base");
	await writeTinyMistral(base, { ...SHAPE, seed: 1 });
	noisy = path.join(root(), "noisy");
	await writeTinyMistral(noisy, { ...SHAPE, seed: 2, base, delta: 0.01 });
	// tuned = base + a rank-3 adapter on three modules, materialized.
	const adapter = await writeAdapter(path.join(root(), "rank3"), { r: 3, lora_alpha: 6 }, [
		{ name: embeddingNames(TOUCHED[0]!).a, shape: [3, 64], data: randn("ea", 192) },
		{ name: embeddingNames(TOUCHED[0]!).b, shape: [16, 3], data: randn("eb", 48) },
		{ name: loraNames(TOUCHED[1]!).a, shape: [3, 16], data: randn("qa", 48) },
		{ name: loraNames(TOUCHED[1]!).b, shape: [16, 3], data: randn("qb", 48) },
		{ name: loraNames(TOUCHED[2]!).a, shape: [3, 16], data: randn("ua", 48) },
		{ name: loraNames(TOUCHED[2]!).b, shape: [32, 3], data: randn("ub", 96) },
	]);
	tuned = path.join(root(), "tuned");
	const src = await openModelWithAdapter({ path: base, adapter });
	const writer = await ShardedWriter.create(
		tuned,
		src.names().map((n) => ({ name: n, dtype: src.info(n).dtype, shape: src.info(n).shape })),
		{ maxShardBytes: Number.MAX_SAFE_INTEGER, metadata: {} },
	);
	for (const n of src.names()) await writer.writeTensor(n, await src.readRaw(n));
	await writer.writeFile("config.json", JSON.stringify(src.config!.raw));
	await writer.commit();
	await src.close();
});

/** Largest |a − b| over every tensor, relative to the largest |b|, per tensor. */
async function maxRelativeDiff(a: string, b: string, adapter?: string): Promise<Map<string, number>> {
	const ma = await openModelWithAdapter({ path: a, ...(adapter !== undefined ? { adapter } : {}) });
	const mb = await openModel(b);
	const out = new Map<string, number>();
	for (const n of mb.names()) {
		const x = (await ma.read(n)).data;
		const y = (await mb.read(n)).data;
		let d = 0;
		let s = 0;
		for (let i = 0; i < y.length; i++) {
			d = Math.max(d, Math.abs(x[i]! - y[i]!));
			s = Math.max(s, Math.abs(y[i]!));
		}
		out.set(n, d / s);
	}
	await ma.close();
	await mb.close();
	return out;
}

test("rank R on a base + rank-R model: error ~0 per module, and the adapter reproduces the model", async () => {
	const out = path.join(root(), "extracted-r3");
	const result = await extractLoraAdapter(base, tuned, { rank: 3, out });
	expect(result.modules.map((m) => [m.module, m.kind, m.rank])).toEqual([
		["model.embed_tokens", "embedding", 3],
		["model.layers.0.self_attn.q_proj", "linear", 3],
		["model.layers.1.mlp.up_proj", "linear", 3],
	]);
	for (const m of result.modules) expect(m.error, m.module).toBeLessThan(1e-5);
	expect(result.maxError).toBeLessThan(1e-5);
	expect(result.files.sort()).toEqual(["README.md", "adapter_config.json", "adapter_model.safetensors"]);
	const config = JSON.parse(await readFile(path.join(out, "adapter_config.json"), "utf8")) as Record<string, unknown>;
	expect(config).toMatchObject({ peft_type: "LORA", r: 3, lora_alpha: 3, rank_pattern: {}, use_rslora: false, fan_in_fan_out: false });
	// Other layers' q_proj/up_proj were not extracted, so the config names the modules in full.
	expect(config.target_modules).toEqual(TOUCHED);
	const adapter = await openAdapter(out);
	expect([...adapter.modules.values()].map((m) => [m.module, m.kind, m.scale])).toEqual(
		TOUCHED.map((t, i) => [t, i === 0 ? "embedding" : "linear", 1]),
	);
	await adapter.close();
	for (const [name, diff] of await maxRelativeDiff(base, tuned, out)) expect(diff, name).toBeLessThan(1e-5);
});

test("a lower rank: the reported error is the written factors' real error; changed norms are reported as not captured", async () => {
	const out = path.join(root(), "extracted-r2");
	const result = await extractLoraAdapter(base, noisy, { rank: 2, out, dtype: "BF16" });
	expect(result.modules).toHaveLength(1 + 7 * 2 + 1);
	const norms = result.skipped.filter((s) => s.reason.includes("not a 2-D weight")).map((s) => s.tensor);
	expect(norms).toEqual(expect.arrayContaining(["model.norm.weight", "model.layers.0.input_layernorm.weight"]));
	// Recompute one module's error from the files: Δ = noisy − base, B·A from the adapter as written (bf16).
	const mod = result.modules.find((m) => m.module === "model.layers.1.self_attn.o_proj")!;
	const a = await openAdapter(out);
	const A = (await a.source.read(loraNames(mod.module).a)).data;
	const B = (await a.source.read(loraNames(mod.module).b)).data;
	await a.close();
	const mb = await openModel(base);
	const mn = await openModel(noisy);
	const w0 = (await mb.read(`${mod.module}.weight`)).data;
	const w1 = (await mn.read(`${mod.module}.weight`)).data;
	await mb.close();
	await mn.close();
	let err = 0;
	let norm = 0;
	for (let o = 0; o < 16; o++)
		for (let i = 0; i < 16; i++) {
			const d = w1[o * 16 + i]! - w0[o * 16 + i]!;
			let ba = 0;
			for (let k = 0; k < 2; k++) ba += B[o * 2 + k]! * A[k * 16 + i]!;
			err += (d - ba) ** 2;
			norm += d * d;
		}
	expect(mod.error).toBeCloseTo(Math.sqrt(err / norm), 6);
	expect(mod.error).toBeGreaterThan(0.1);
	expect(mod.error).toBeLessThan(1);
	expect(result.meanError).toBeGreaterThan(0.1);
});

test("a rank above a module's dimensions is capped per module, recorded in rank_pattern and alpha_pattern", async () => {
	const out = path.join(root(), "extracted-r20");
	const result = await extractLoraAdapter(base, tuned, { rank: 20, out });
	expect(result.modules.map((m) => m.rank)).toEqual([16, 16, 16]);
	const config = JSON.parse(await readFile(path.join(out, "adapter_config.json"), "utf8")) as {
		rank_pattern: Record<string, number>;
		alpha_pattern: Record<string, number>;
	};
	expect(config.rank_pattern).toEqual({
		"model\\.embed_tokens": 16,
		"model\\.layers\\.0\\.self_attn\\.q_proj": 16,
		"model\\.layers\\.1\\.mlp\\.up_proj": 16,
	});
	expect(config.alpha_pattern).toEqual(config.rank_pattern);
	for (const [name, diff] of await maxRelativeDiff(base, tuned, out)) expect(diff, name).toBeLessThan(1e-5);
});

test("identical models: nothing to extract", async () => {
	const err = await rejected(extractLoraAdapter(base, base, { rank: 2, out: path.join(root(), "none") }), LoraError);
	expect(err.kind).toBe("NothingToExtract");
});
