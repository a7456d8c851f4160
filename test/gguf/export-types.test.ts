/**
 * Every export type loads in llama.cpp (node-llama-cpp) and predicts the same next token as the f32 export
 * on a model wide enough for k-quant super-blocks (hidden 256, intermediate 512); llama.cpp's output on a
 * quantized file matches the float64 reference run on the weights our own decoder reads back from it (so
 * the blocks mean to llama.cpp what they mean to us; what remains is llama.cpp quantizing activations to
 * 8 bits for its quantized dot products); the mix puts the types where llama-quantize would.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type MistralConfig, toMistralConfig } from "../../src/eval/mistral-config.js";
import { referenceForward } from "../../src/eval/reference.js";
import { type ExportGgufResult, exportGguf } from "../../src/gguf/export.js";
import { GGUF_EXPORT_TYPES, type GgufExportType } from "../../src/gguf/mix.js";
import { unpermuteRotaryRows } from "../../src/gguf/names.js";
import { openGguf } from "../../src/gguf/reader.js";
import { openModel } from "../../src/model/model-dir.js";
import { useTempDir } from "../helpers/fs.js";
import { argmax, loadGguf, logSoftmax, maxAbsDiff, nextTokenLogProbs, testLlama } from "../helpers/llama.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-gguf-types-");
const VOCAB = 96;
const PROMPTS = [
	[1, 17, 5, 42, 9, 33, 60, 2, 28, 11],
	[1, 40, 41, 42, 43, 44, 45, 46, 47, 48],
	[1, 7, 90, 3],
	[1, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74],
	[1, 30, 31, 30, 31, 30, 31],
	[1, 12, 80, 13, 81, 14, 82, 15],
];

/**
 * A random tiny model often ranks its top two tokens almost equally; quantization noise (up to ~1 nat for
 * 4-bit types here) may swap those, which says nothing about the file. Arg-max agreement is asserted where
 * the f32 winner leads by this much.
 */
const CLEAR_LEAD = 0.4;

/** How far the top log-probability leads the second. */
function lead(row: Float64Array): number {
	const [a, b] = [...row].sort((x, y) => y - x);
	return a! - b!;
}

const results = new Map<GgufExportType, ExportGgufResult>();
const logProbs = new Map<GgufExportType, Float64Array[]>();
const dequantized = new Map<GgufExportType, Float64Array[]>();

const HF_GLOBAL: Record<string, string> = {
	token_embd: "model.embed_tokens.weight",
	output_norm: "model.norm.weight",
	output: "lm_head.weight",
};
const HF_LAYER: Record<string, string> = {
	attn_norm: "input_layernorm",
	attn_q: "self_attn.q_proj",
	attn_k: "self_attn.k_proj",
	attn_v: "self_attn.v_proj",
	attn_output: "self_attn.o_proj",
	ffn_norm: "post_attention_layernorm",
	ffn_gate: "mlp.gate_proj",
	ffn_up: "mlp.up_proj",
	ffn_down: "mlp.down_proj",
};

/** Next-token log-probabilities of the float64 reference on the weights decoded back from a GGUF file. */
async function referenceOnFile(path: string, cfg: MistralConfig): Promise<Float64Array[]> {
	const g = await openGguf(path);
	const w = new Map<string, Float64Array>();
	try {
		for (const t of g.tensors) {
			let data = await g.readF32(t.name);
			const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(t.name);
			if (m !== null && (m[2] === "attn_q" || m[2] === "attn_k")) data = unpermuteRotaryRows(data, t.dims[0]!, cfg.headDim);
			w.set(
				m !== null ? `model.layers.${m[1]}.${HF_LAYER[m[2]!]}.weight` : HF_GLOBAL[t.name.replace(/\.weight$/, "")]!,
				Float64Array.from(data),
			);
		}
	} finally {
		await g.close();
	}
	return PROMPTS.map((ids) => logSoftmax(referenceForward(cfg, w, ids), (ids.length - 1) * cfg.vocab, cfg.vocab));
}

beforeAll(async () => {
	const dir = join(root(), "model");
	await writeTinyMistral(dir, {
		seed: 21,
		layers: 8,
		hidden: 256,
		intermediate: 512,
		heads: 4,
		kvHeads: 2,
		vocab: VOCAB,
		initStd: 0.05,
		dtype: "BF16",
	});
	const src = await openModel(dir);
	const cfg = toMistralConfig(src.config!, src.location);
	await src.close();
	for (const type of GGUF_EXPORT_TYPES) {
		const out = join(root(), `model-${type}.gguf`);
		results.set(type, await exportGguf(dir, { type, out }));
		dequantized.set(type, await referenceOnFile(out, cfg));
		const model = await loadGguf(out);
		try {
			const rows: Float64Array[] = [];
			for (const ids of PROMPTS) rows.push(await nextTokenLogProbs(model, ids, VOCAB));
			logProbs.set(type, rows);
		} finally {
			await model.dispose();
		}
	}
}, 300_000);

afterAll(async () => {
	await (await testLlama()).dispose();
});

describe.each(GGUF_EXPORT_TYPES.filter((t) => t !== "f32"))("%s", (type) => {
	test(`loads in llama.cpp and gives the same arg-max as f32 on every prompt whose f32 winner leads by ${CLEAR_LEAD} nats`, () => {
		const ref = logProbs.get("f32")!;
		const got = logProbs.get(type)!;
		const diffs = got.map((row, i) => maxAbsDiff(row, ref[i]!).max);
		console.log(
			`${type}: ${results.get(type)!.bytes} bytes, max |Δ log p| vs f32 per prompt: ${diffs.map((d) => d.toExponential(2)).join(", ")}`,
		);
		console.log(`f32 leads: ${ref.map((r) => lead(r).toFixed(3)).join(", ")}`);
		const clear = PROMPTS.map((_, i) => i).filter((i) => lead(ref[i]!) >= CLEAR_LEAD);
		expect(clear.length).toBeGreaterThanOrEqual(2);
		for (const i of clear) expect(argmax(got[i]!), `prompt ${i}`).toBe(argmax(ref[i]!));
	});

	test("llama.cpp computes what the file holds: the float64 reference on our decoding of it agrees to 0.15", () => {
		const got = logProbs.get(type)!;
		const want = dequantized.get(type)!;
		for (let i = 0; i < PROMPTS.length; i++) {
			const d = maxAbsDiff(got[i]!, want[i]!);
			expect(d.max, `prompt ${i}: max |Δ log p| at token ${d.at}`).toBeLessThan(0.15);
			// Its 8-bit activations move log-probabilities by up to ~0.1: the winner is compared where it leads by more.
			if (lead(want[i]!) > 0.2) expect(argmax(got[i]!), `prompt ${i}`).toBe(argmax(want[i]!));
		}
	});
});

describe("the mixes", () => {
	test("f32/f16/bf16 keep norms F32 and every matrix in the named type", () => {
		expect(results.get("f32")!.types).toEqual({ F32: 75 });
		expect(results.get("f16")!.types).toEqual({ F32: 17, F16: 58 });
		expect(results.get("bf16")!.types).toEqual({ F32: 17, BF16: 58 });
	});

	test("q8_0 is Q8_0 throughout; q4_0 and q6_k give the output matrix Q6_K", () => {
		expect(results.get("q8_0")!.types).toEqual({ F32: 17, Q8_0: 58 });
		expect(results.get("q4_0")!.types).toEqual({ F32: 17, Q4_0: 57, Q6_K: 1 });
		expect(results.get("q6_k")!.types).toEqual({ F32: 17, Q6_K: 58 });
	});

	test("q4_k_m / q5_k_m: Q6_K for the output and for attn_v and ffn_down in layers 0, 3, 6, 7 of 8", () => {
		// use_more_bits(i, 8): i < 1, i >= 7, or (i − 1) % 3 == 2 → layers 0, 3, 6, 7: 4 attn_v + 4 ffn_down + output.
		expect(results.get("q4_k_m")!.types).toEqual({ F32: 17, Q4_K: 58 - 9, Q6_K: 9 });
		expect(results.get("q5_k_m")!.types).toEqual({ F32: 17, Q5_K: 58 - 9, Q6_K: 9 });
	});
});
