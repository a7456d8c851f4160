/**
 * Exported GGUF files load in llama.cpp (node-llama-cpp) and give the next-token distribution of the
 * float64 reference forward pass: exact mode (F32 weights, F32 KV cache, no flash attention) to 1e-4 in
 * log-probability over the whole vocabulary, on tiny models covering GQA, tied embeddings, a head_dim
 * that is not hidden/heads and rope_theta 1e6.
 */
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { toMistralConfig } from "../../src/eval/mistral-config.js";
import { loadReferenceWeights, referenceForward } from "../../src/eval/reference.js";
import { exportGguf } from "../../src/gguf/export.js";
import { openModel } from "../../src/model/model-dir.js";
import { useTempDir } from "../helpers/fs.js";
import { argmax, loadGguf, logSoftmax, maxAbsDiff, nextTokenLogProbs, testLlama } from "../helpers/llama.js";
import { type TinyMistralOptions, writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-gguf-llama-");

const BASE = { layers: 2, hidden: 32, intermediate: 64, heads: 4, kvHeads: 2, vocab: 64, initStd: 0.3, dtype: "F32" } as const;

const MODELS: Record<string, TinyMistralOptions> = {
	gqa: { ...BASE, seed: 11 },
	"tied embeddings": { ...BASE, seed: 12, tieEmbeddings: true },
	"head_dim 16 (hidden/heads is 8)": { ...BASE, seed: 13, headDim: 16 },
	"rope_theta 1e6, mha": { ...BASE, seed: 14, ropeTheta: 1e6, kvHeads: 4 },
};

const PROMPTS = [
	[1, 17, 5, 42, 9, 33, 60, 2, 28, 11],
	[1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63],
	[1, 7],
];

afterAll(async () => {
	await (await testLlama()).dispose();
});

/** Exports `opts` as `type` and returns, per prompt, llama.cpp's and the reference's next-token log-probabilities. */
async function compare(
	label: string,
	opts: TinyMistralOptions,
	type: "f32" | "f16" | "bf16",
): Promise<Array<{ ids: number[]; got: Float64Array; want: Float64Array }>> {
	const dir = join(root(), label.replace(/[^a-z0-9]+/gi, "-"));
	await writeTinyMistral(dir, { ...opts, force: true });
	const out = join(dir, `model-${type}.gguf`);
	await exportGguf(dir, { type, out, force: true });
	const src = await openModel(dir);
	const cfg = toMistralConfig(src.config!, src.location);
	const weights = await loadReferenceWeights(src);
	await src.close();
	const model = await loadGguf(out);
	try {
		const rows = [];
		for (const ids of PROMPTS) {
			const logits = referenceForward(cfg, weights, ids);
			rows.push({
				ids,
				got: await nextTokenLogProbs(model, ids, cfg.vocab),
				want: logSoftmax(logits, (ids.length - 1) * cfg.vocab, cfg.vocab),
			});
		}
		return rows;
	} finally {
		await model.dispose();
	}
}

describe.each(Object.entries(MODELS))("%s", (label, opts) => {
	test("f16 export: same arg-max as the float64 reference, log-probabilities within 0.05", { timeout: 120_000 }, async () => {
		for (const { ids, got, want } of await compare(label, opts, "f16")) {
			const d = maxAbsDiff(got, want);
			expect(d.max, `prompt ${ids.join(",")}: max |Δ log p| at token ${d.at}`).toBeLessThan(0.05);
			expect(argmax(got)).toBe(argmax(want));
		}
	});

	test("f32 export: llama.cpp next-token log-probabilities match the float64 reference to 1e-4", { timeout: 120_000 }, async () => {
		for (const { ids, got, want } of await compare(label, opts, "f32")) {
			const d = maxAbsDiff(got, want);
			expect(d.max, `prompt ${ids.join(",")}: max |Δ log p| at token ${d.at}`).toBeLessThan(1e-4);
			expect(argmax(got)).toBe(argmax(want));
		}
	});
});
