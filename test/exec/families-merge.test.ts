/**
 * One tiny checkpoint pair per architecture family, merged twice: linear (every tensor the average of its inputs) and a
 * passthrough frankenmerge (layers stacked from two models and renumbered, every tensor copied from its source), with
 * the output's config.json checked: every key of the family that holds the layer count, and nothing else changed.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { layerIndexOf, renameLayer } from "../../src/arch/detect.js";
import { ARCHITECTURES } from "../../src/arch/registry.js";
import { mergeModels } from "../../src/exec/merge-models.js";
import { openModel } from "../../src/model/model-dir.js";
import type { ModelSource } from "../../src/model/model-source.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { expectClose } from "../helpers/close.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyArchitecture } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-family-merge-");

/** Variant flags and legacy keys a family's fixture sets, so the merge sees them (Falcon's second layer-count key). */
const CONFIGS: Record<string, Record<string, unknown>> = {
	falcon: { n_layer: 2, bias: true },
	mixtral: { num_local_experts: 2 },
	stablelm: { qk_layernorm: true, use_qkv_bias: true },
	cohere: { use_qk_norm: true },
	exaone: { num_hidden_layers: 2 },
	internlm2: { bias: false },
};

async function withModel<T>(dir: string, fn: (m: ModelSource) => Promise<T>): Promise<T> {
	const m = await openModel(dir);
	try {
		return await fn(m);
	} finally {
		await m.close();
	}
}

async function readJson(file: string): Promise<Record<string, unknown>> {
	return JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
}

describe.each(ARCHITECTURES.map((a) => [a.name] as const))("%s", (family) => {
	let written: Promise<{ a: string; b: string }> | undefined;
	const pair = (): Promise<{ a: string; b: string }> => (written ??= writePair());
	const writePair = async (): Promise<{ a: string; b: string }> => {
		const a = join(root(), `${family}-a`);
		const b = join(root(), `${family}-b`);
		const config = CONFIGS[family];
		const opts = { layers: 2, dtype: "F32" as const, ...(config !== undefined ? { config } : {}) };
		await writeTinyArchitecture(a, family, { ...opts, seed: 1 });
		await writeTinyArchitecture(b, family, { ...opts, seed: 2 });
		return { a, b };
	};

	test("linear: every tensor is the mean of its inputs; config.json is the first model's", async () => {
		const { a, b } = await pair();
		const out = join(root(), `${family}-linear`);
		const recipe = parseRecipe(
			`merge_method: linear\nmodels:\n  - model: ${a}\n    parameters: {weight: 1}\n` +
				`  - model: ${b}\n    parameters: {weight: 1}\ndtype: float32\n`,
		);
		const result = await mergeModels(recipe, { out, threads: 1 });
		expect(result.warnings.filter((w) => w.includes("architecture") || w.includes("definition"))).toEqual([]);
		await withModel(a, (ma) =>
			withModel(b, (mb) =>
				withModel(out, async (mo) => {
					expect(mo.names()).toEqual(ma.names());
					for (const name of mo.names()) {
						const [x, y, z] = await Promise.all([ma.read(name), mb.read(name), mo.read(name)]);
						expect(z.shape).toEqual(x.shape);
						expectClose(
							z.data,
							x.data.map((v, i) => (v + y.data[i]!) / 2),
							1e-7,
						);
					}
				}),
			),
		);
		expect(await readJson(join(out, "config.json"))).toEqual(await readJson(join(a, "config.json")));
	});

	test("passthrough frankenmerge: 2 + 1 layers, renumbered, copied; every layer-count key says 3", async () => {
		const { a, b } = await pair();
		const out = join(root(), `${family}-franken`);
		const recipe = parseRecipe(
			`merge_method: passthrough\nslices:\n  - sources:\n      - model: ${a}\n        layer_range: [0, 2]\n` +
				`  - sources:\n      - model: ${b}\n        layer_range: [1, 2]\ndtype: float32\n`,
		);
		await mergeModels(recipe, { out, threads: 1 });
		await withModel(a, (ma) =>
			withModel(b, (mb) =>
				withModel(out, async (mo) => {
					const layerNames = (m: ModelSource, i: number) => m.names().filter((n) => layerIndexOf(n) === i);
					const expected = new Map<string, [ModelSource, string]>();
					for (const n of ma.names()) if (layerIndexOf(n) === undefined) expected.set(n, [ma, n]);
					// Tensors after the layers (final norm, head) come from the last slice, as in mergekit.
					const pre = new Set(ARCHITECTURES.find((s) => s.name === family)!.preWeights.map((w) => w.name));
					const bLast = new Set(mb.names().filter((n) => layerIndexOf(n) === undefined && !pre.has(n)));
					for (const n of bLast) expected.set(n, [mb, n]);
					for (const i of [0, 1]) for (const n of layerNames(ma, i)) expected.set(n, [ma, n]);
					for (const n of layerNames(mb, 1)) expected.set(renameLayer(n, 2), [mb, n]);
					expect([...mo.names()].sort()).toEqual([...expected.keys()].sort());
					for (const [name, [src, from]] of expected) {
						expect(Buffer.from(await mo.readRaw(name)).equals(Buffer.from(await src.readRaw(from))), `${name} ← ${from}`).toBe(true);
					}
				}),
			),
		);
		const config = await readJson(join(out, "config.json"));
		const source = await readJson(join(a, "config.json"));
		const spec = ARCHITECTURES.find((s) => s.name === family)!;
		const changed = spec.layerCountKeys.filter((k) => k in source);
		expect(changed.length).toBeGreaterThan(0);
		for (const k of changed) expect(config[k], k).toBe(3);
		expect(config).toEqual({ ...source, ...Object.fromEntries(changed.map((k) => [k, 3])) });
	});
});
