import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BenchPair, benchConfig, MISTRAL_7B_SHAPE, writeBenchPair } from "../../bench/fixtures.js";
import { tinyTensorSpecs } from "../../src/fixtures/tiny-weights.js";
import { type ModelSource, openModel } from "../../src/index.js";
import { useTempDir } from "../helpers/fs.js";
import { TINY } from "./tiny-shape.js";

const root = useTempDir("bench-fixtures-test-");
let pair: BenchPair;
let base: ModelSource;
let tuned: ModelSource;

beforeAll(async () => {
	pair = await writeBenchPair(join(root(), "a"), { shape: TINY });
	base = await openModel(pair.base);
	tuned = await openModel(pair.tuned);
});

afterAll(async () => {
	await base.close();
	await tuned.close();
});

function stats(x: Float32Array): { mean: number; std: number } {
	const mean = x.reduce((a, v) => a + v, 0) / x.length;
	const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
	return { mean, std: Math.sqrt(variance) };
}

describe("writeBenchPair", () => {
	it("writes writeTinyMistral's tensor names and shapes in bf16", () => {
		const specs = tinyTensorSpecs(TINY);
		expect(pair.tensors).toBe(specs.length);
		for (const m of [base, tuned]) {
			expect(m.names()).toEqual(specs.map((s) => s.name));
			for (const s of specs) expect([m.info(s.name).dtype, m.info(s.name).shape]).toEqual(["BF16", s.shape]);
		}
		expect(pair.bytesPerModel).toBe(specs.reduce((a, s) => a + s.shape.reduce((x, d) => x * d, 2), 0));
	});

	it("writes config.json with the shape", async () => {
		const config = JSON.parse(await readFile(join(pair.tuned, "config.json"), "utf8")) as Record<string, unknown>;
		expect(config).toEqual(benchConfig(TINY));
		expect(config).toMatchObject({
			hidden_size: 64,
			intermediate_size: 128,
			num_hidden_layers: 1,
			num_attention_heads: 4,
			num_key_value_heads: 2,
			vocab_size: 128,
			head_dim: 16,
			torch_dtype: "bfloat16",
		});
	});

	it("gives weights of std 0.02, norms near 1 and a fine-tuning delta of std 0.002", async () => {
		const name = "model.layers.0.mlp.up_proj.weight"; // 8192 values: std estimates within a few percent
		const b = (await base.read(name)).data;
		const t = (await tuned.read(name)).data;
		const w = stats(b);
		expect(Math.abs(w.mean)).toBeLessThan(0.001);
		expect(w.std).toBeGreaterThan(0.019);
		expect(w.std).toBeLessThan(0.021);
		const d = stats(t.map((v, i) => v - b[i]!));
		expect(d.std).toBeGreaterThan(0.0018);
		expect(d.std).toBeLessThan(0.0022);
		const norm = stats((await base.read("model.norm.weight")).data);
		expect(Math.abs(norm.mean - 1)).toBeLessThan(0.02);
		expect(norm.std).toBeGreaterThan(0.03);
		expect(norm.std).toBeLessThan(0.07);
	});

	it("is deterministic in the seed", async () => {
		const again = await writeBenchPair(join(root(), "b"), { shape: TINY });
		const other = await writeBenchPair(join(root(), "c"), { shape: TINY, seed: 1 });
		const bytes = (dir: string) => readFile(join(dir, "model.safetensors"));
		expect((await bytes(again.tuned)).equals(await bytes(pair.tuned))).toBe(true);
		expect((await bytes(other.tuned)).equals(await bytes(pair.tuned))).toBe(false);
	});

	it("defaults to the full-width Mistral shape", () => {
		expect(MISTRAL_7B_SHAPE).toMatchObject({ hidden: 4096, intermediate: 14336, heads: 32, kvHeads: 8, vocab: 32000, layers: 32 });
	});
});
