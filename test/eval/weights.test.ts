import { describe, expect, test } from "vitest";
import { chooseStreaming, WASM_RESIDENT_LIMIT } from "../../src/eval/eval-model.js";
import { float32WeightBytes, layerParamCount, type MistralConfig, toMistralConfig } from "../../src/eval/mistral-config.js";
import { decodeTransposed, transposeMatrix } from "../../src/eval/model/transpose.js";
import { initTfjs } from "../../src/eval/tfjs-backend.js";
import { disposeHeadWeights, disposeLayerWeights, isHeadTied, loadHeadWeights, loadLayerWeights } from "../../src/eval/weights.js";
import { encodeFromF32 } from "../../src/io/convert.js";
import { parseModelConfig } from "../../src/model/config.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { memorySource } from "./memory-source.js";

const RAW = {
	architectures: ["MistralForCausalLM"],
	model_type: "mistral",
	hidden_size: 4,
	intermediate_size: 6,
	num_hidden_layers: 1,
	num_attention_heads: 2,
	num_key_value_heads: 1,
	vocab_size: 5,
	rms_norm_eps: 1e-5,
	sliding_window: 3,
};
const cfgOf = (over: Record<string, unknown> = {}): MistralConfig =>
	toMistralConfig(parseModelConfig({ ...RAW, ...over }, "config.json"), "tiny");

/** Tensor i holds values base + 0, 1, 2, ... so every element is recognisable after transposition. */
function ramp(shape: number[], base: number): Tensor {
	const n = shape.reduce((a, b) => a * b, 1);
	return { shape, data: Float32Array.from({ length: n }, (_, i) => base + i) };
}

function tinyTensors(cfg: MistralConfig, withHead: boolean): Map<string, Tensor> {
	const { hidden: H, intermediate: I, vocab: V } = cfg;
	const q = cfg.heads * cfg.headDim;
	const kv = cfg.kvHeads * cfg.headDim;
	const m = new Map<string, Tensor>([["model.embed_tokens.weight", ramp([V, H], 0)]]);
	const shapes: Array<[string, number[]]> = [
		["input_layernorm", [H]],
		["self_attn.q_proj", [q, H]],
		["self_attn.k_proj", [kv, H]],
		["self_attn.v_proj", [kv, H]],
		["self_attn.o_proj", [H, q]],
		["post_attention_layernorm", [H]],
		["mlp.gate_proj", [I, H]],
		["mlp.up_proj", [I, H]],
		["mlp.down_proj", [H, I]],
	];
	shapes.forEach(([mod, shape], k) => {
		m.set(`model.layers.0.${mod}.weight`, ramp(shape, 100 * (k + 1)));
	});
	m.set("model.norm.weight", ramp([H], 7));
	if (withHead) m.set("lm_head.weight", ramp([V, H], 1000));
	return m;
}

describe("toMistralConfig", () => {
	test("maps config.json fields; head_dim defaults to hidden / heads", () => {
		expect(cfgOf()).toEqual({
			hidden: 4,
			intermediate: 6,
			layers: 1,
			heads: 2,
			kvHeads: 1,
			headDim: 2,
			vocab: 5,
			rmsNormEps: 1e-5,
			ropeTheta: 10000,
			slidingWindow: 3,
			tieEmbeddings: false,
		});
		expect(cfgOf({ model_type: "llama", architectures: ["LlamaForCausalLM"], head_dim: 8 }).headDim).toBe(8);
	});

	test.each([
		["another family", { model_type: "gpt2", architectures: ["GPT2LMHeadModel"] }],
		["rope_scaling", { rope_scaling: { type: "linear", factor: 2 } }],
		["a non-SiLU activation", { hidden_act: "gelu" }],
		["attention biases", { attention_bias: true }],
		["an odd head_dim", { head_dim: 3 }],
	])("rejects %s with EvaluationError kind Config", (_label, over) => {
		expect(() => cfgOf(over)).toThrow(expect.objectContaining({ kind: "Config" }));
	});
});

describe("sizes and the streaming decision", () => {
	test("Mistral 7B: 218,112,000 parameters per layer, 7.24 B in all", () => {
		const m7b = toMistralConfig(
			parseModelConfig(
				{
					...RAW,
					hidden_size: 4096,
					intermediate_size: 14336,
					num_hidden_layers: 32,
					num_attention_heads: 32,
					num_key_value_heads: 8,
					vocab_size: 32000,
				},
				"7b",
			),
			"7b",
		);
		expect(layerParamCount(m7b)).toBe(218_112_000);
		expect(float32WeightBytes(m7b)).toBe(4 * 7_241_732_096);
		expect(chooseStreaming(m7b, "wasm", "auto", 1e12)).toBe(true); // far beyond the wasm heap
		expect(chooseStreaming(m7b, "tensorflow", "auto", 1e12)).toBe(false);
		expect(() => chooseStreaming(m7b, "wasm", false)).toThrow(expect.objectContaining({ kind: "Backend" }));
	});

	test("tiny model: auto streams only when over the budget; explicit choices win", () => {
		const c = cfgOf();
		const bytes = float32WeightBytes(c);
		expect(bytes).toBe(4 * (5 * 4 * 2 + 4 + layerParamCount(c)));
		expect(chooseStreaming(c, "cpu", "auto", bytes)).toBe(false);
		expect(chooseStreaming(c, "cpu", "auto", bytes - 1)).toBe(true);
		expect(chooseStreaming(c, "cpu", true, 1e12)).toBe(true);
		expect(chooseStreaming(c, "wasm", false, 1)).toBe(false);
		expect(WASM_RESIDENT_LIMIT).toBeGreaterThan(bytes);
	});
});

describe("transposeMatrix", () => {
	test("[2, 3] by hand, and a non-square round trip across tile edges", () => {
		expect([...transposeMatrix(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3)]).toEqual([1, 4, 2, 5, 3, 6]);
		const a = ramp([37, 70], 0).data;
		const t = transposeMatrix(a, 37, 70);
		expect(t[5 * 37 + 36]).toBe(a[36 * 70 + 5]);
		expect(transposeMatrix(t, 70, 37)).toEqual(a);
	});

	test.each(["F32", "F16", "BF16", "F64"] as const)("decodeTransposed from %s bytes equals decode then transpose", (dtype) => {
		// 45 rows: one full 32-row tile and a partial one; values exact in every dtype (multiples of 1/4 below 256)
		const a = Float32Array.from({ length: 45 * 7 }, (_, i) => (i % 97) / 4 - 12);
		const bytes = dtype === "F64" ? new Uint8Array(Float64Array.from(a).buffer) : encodeFromF32(a, dtype);
		expect(decodeTransposed(bytes, dtype, 45, 7)).toEqual(transposeMatrix(a, 45, 7));
	});
});

describe("loading weights", () => {
	test("projections are stored transposed to [in, out]; norms as vectors", async () => {
		const tf = await initTfjs("cpu");
		const c = cfgOf();
		const src = memorySource(tinyTensors(c, true));
		const w = await loadLayerWeights(tf, src, c, 0);
		try {
			expect(w.wq.shape).toEqual([4, 4]);
			expect(w.wk.shape).toEqual([4, 2]);
			expect(w.wo.shape).toEqual([4, 4]);
			expect(w.wGate.shape).toEqual([4, 6]);
			expect(w.wDown.shape).toEqual([6, 4]);
			// k_proj is [2, 4] = 300..307 row-major; transposed element [i, o] = 300 + o·4 + i
			expect(Array.from(w.wk.dataSync())).toEqual([300, 304, 301, 305, 302, 306, 303, 307]);
			expect(Array.from(w.inputNorm.dataSync())).toEqual([100, 101, 102, 103]);
		} finally {
			disposeLayerWeights(w);
		}
	});

	test("lm_head: stored one when untied; the embedding matrix when tied or absent", async () => {
		const tf = await initTfjs("cpu");
		const c = cfgOf();
		const cases: Array<[string, MistralConfig, boolean, number]> = [
			["untied", c, true, 1000],
			["tie_word_embeddings", { ...c, tieEmbeddings: true }, true, 0],
			["lm_head absent", c, false, 0],
		];
		for (const [label, cfg, withHead, base] of cases) {
			const src = memorySource(tinyTensors(cfg, withHead));
			expect(isHeadTied(src, cfg), label).toBe(base === 0);
			const h = await loadHeadWeights(tf, src, cfg);
			try {
				expect(h.lmHead.shape).toEqual([4, 5]);
				// [hidden, vocab]: element [i, v] is row v, column i of the [vocab, hidden] source
				expect(h.lmHead.dataSync()[1 * 5 + 2], label).toBe(base + 2 * 4 + 1);
			} finally {
				disposeHeadWeights(h);
			}
		}
	});

	test("a missing tensor or a shape that disagrees with config.json is EvaluationError kind Config", async () => {
		const tf = await initTfjs("cpu");
		const c = cfgOf();
		const missing = tinyTensors(c, true);
		missing.delete("model.layers.0.mlp.up_proj.weight");
		await expect(loadLayerWeights(tf, memorySource(missing), c, 0)).rejects.toMatchObject({ kind: "Config" });
		const wrong = tinyTensors(c, true);
		wrong.set("model.layers.0.self_attn.v_proj.weight", ramp([4, 4], 0));
		await expect(loadLayerWeights(tf, memorySource(wrong), c, 0)).rejects.toMatchObject({ kind: "Config" });
		await expect(loadHeadWeights(tf, memorySource(tinyTensors(c, true)), { ...c, vocab: 6 })).rejects.toMatchObject({ kind: "Config" });
	});
});
