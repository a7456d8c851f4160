import { describe, expect, test } from "vitest";
import type { MistralConfig } from "../../src/eval/mistral-config.js";
import { loadReferenceWeights, type ReferenceWeights, referenceForward } from "../../src/eval/reference.js";
import { seededNormals } from "../../src/fixtures/tiny-weights.js";
import { expectClose, memorySource } from "./memory-source.js";

/** A one-layer, one-head, 2-wide model small enough to compute by hand. */
const HAND: MistralConfig = {
	hidden: 2,
	intermediate: 1,
	layers: 1,
	heads: 1,
	kvHeads: 1,
	headDim: 2,
	vocab: 3,
	rmsNormEps: 0,
	ropeTheta: 10000,
	slidingWindow: null,
	tieEmbeddings: false,
};

function handWeights(over: Record<string, number[]>): ReferenceWeights {
	const base: Record<string, number[]> = {
		"model.embed_tokens.weight": [1, 0, 0, 2, 1, 1],
		"model.layers.0.input_layernorm.weight": [1, 1],
		"model.layers.0.self_attn.q_proj.weight": [1, 0, 0, 1],
		"model.layers.0.self_attn.k_proj.weight": [1, 0, 0, 1],
		"model.layers.0.self_attn.v_proj.weight": [1, 0, 0, 1],
		"model.layers.0.self_attn.o_proj.weight": [1, 0, 0, 1],
		"model.layers.0.post_attention_layernorm.weight": [1, 1],
		"model.layers.0.mlp.gate_proj.weight": [0, 0],
		"model.layers.0.mlp.up_proj.weight": [0, 0],
		"model.layers.0.mlp.down_proj.weight": [0, 0],
		"model.norm.weight": [1, 1],
		"lm_head.weight": [1, 0, 0, 1, 1, 1],
		...over,
	};
	return new Map(Object.entries(base).map(([k, v]) => [k, Float64Array.from(v)]));
}

/** Random float64 weights for a small GQA model, seeded per tensor name. */
function randomWeights(cfg: MistralConfig, seed: number): ReferenceWeights {
	const { hidden: H, heads, kvHeads, headDim: d, intermediate: I, vocab: V } = cfg;
	const shapes: Record<string, number> = { "model.embed_tokens.weight": V * H, "model.norm.weight": H, "lm_head.weight": V * H };
	for (let l = 0; l < cfg.layers; l++) {
		const p = `model.layers.${l}.`;
		Object.assign(shapes, {
			[`${p}input_layernorm.weight`]: H,
			[`${p}post_attention_layernorm.weight`]: H,
			[`${p}self_attn.q_proj.weight`]: heads * d * H,
			[`${p}self_attn.k_proj.weight`]: kvHeads * d * H,
			[`${p}self_attn.v_proj.weight`]: kvHeads * d * H,
			[`${p}self_attn.o_proj.weight`]: H * heads * d,
			[`${p}mlp.gate_proj.weight`]: I * H,
			[`${p}mlp.up_proj.weight`]: I * H,
			[`${p}mlp.down_proj.weight`]: H * I,
		});
	}
	return new Map(
		Object.entries(shapes).map(([name, n]) => [
			name,
			Float64Array.from(seededNormals(`ref/${seed}/${name}`, n), (v) => (name.endsWith("norm.weight") ? 1 + 0.1 * v : 0.3 * v)),
		]),
	);
}

const SMALL: MistralConfig = {
	...HAND,
	hidden: 16,
	intermediate: 24,
	layers: 2,
	heads: 4,
	kvHeads: 2,
	headDim: 4,
	vocab: 20,
	rmsNormEps: 1e-5,
};
const TOKENS = [3, 1, 4, 1, 5, 9, 2, 6];

describe("referenceForward by hand", () => {
	test("one token: attention returns v, an empty MLP adds nothing, logits = lm_head · norm(x + v)", () => {
		// x = [1, 0]; xn = x / √(1/2) = [√2, 0]; v = xn; h = [1 + √2, 0]; final norm → [√2, 0]
		const logits = referenceForward(HAND, handWeights({}), [0]);
		expectClose("logits", logits, [Math.SQRT2, 0, Math.SQRT2], 1e-12);
	});

	test("the SiLU-gated MLP: down(silu(gate·xn) ⊙ up·xn)", () => {
		// token 2: x = [1, 1] = xn; attention off (v = 0); gate = 1, up = 2 + 1 = 3; act = 3·silu(1); h = [1 + act, 1]
		const w = handWeights({
			"model.layers.0.self_attn.v_proj.weight": [0, 0, 0, 0],
			"model.layers.0.mlp.gate_proj.weight": [1, 0],
			"model.layers.0.mlp.up_proj.weight": [2, 1],
			"model.layers.0.mlp.down_proj.weight": [1, 0],
		});
		const act = 3 / (1 + Math.exp(-1));
		const h = [1 + act, 1];
		const r = 1 / Math.sqrt((h[0]! ** 2 + h[1]! ** 2) / 2);
		expectClose("logits", referenceForward(HAND, w, [2]), [h[0]! * r, h[1]! * r, (h[0]! + h[1]!) * r], 1e-12);
	});

	test("two tokens: the second attends to both with softmax weights from rotated q·k / √d", () => {
		// xn0 = [√2, 0], xn1 = [0, √2]; q1 = k1 = xn1 rotated by angle 1 (position 1, θ^0 = 1), k0 = xn0 unrotated
		const w = handWeights({});
		const rot = (v: number[], a: number): number[] => [
			v[0]! * Math.cos(a) - v[1]! * Math.sin(a),
			v[1]! * Math.cos(a) + v[0]! * Math.sin(a),
		];
		const q1 = rot([0, Math.SQRT2], 1);
		const k0 = [Math.SQRT2, 0];
		const k1 = q1;
		const s0 = (q1[0]! * k0[0]! + q1[1]! * k0[1]!) / Math.SQRT2;
		const s1 = (q1[0]! * k1[0]! + q1[1]! * k1[1]!) / Math.SQRT2;
		const p0 = Math.exp(s0) / (Math.exp(s0) + Math.exp(s1));
		const att = [p0 * Math.SQRT2, (1 - p0) * Math.SQRT2]; // Σ p · v with v = xn
		const h = [0 + att[0]!, 2 + att[1]!];
		const r = 1 / Math.sqrt((h[0]! ** 2 + h[1]! ** 2) / 2);
		const logits = referenceForward(HAND, w, [0, 1]);
		expectClose("position 1", logits.subarray(3), [h[0]! * r, h[1]! * r, (h[0]! + h[1]!) * r], 1e-12);
	});

	test("tied embeddings: lm_head is the embedding matrix (a stored lm_head is ignored; an absent one ties too)", () => {
		// final normed state [√2, 0] against embedding rows [1, 0], [0, 2], [1, 1]
		const w = handWeights({ "lm_head.weight": [0, 0, 0, 0, 0, 0] });
		expectClose("untied", referenceForward(HAND, w, [0]), [0, 0, 0], 1e-12);
		expectClose("tied", referenceForward({ ...HAND, tieEmbeddings: true }, w, [0]), [Math.SQRT2, 0, Math.SQRT2], 1e-12);
		w.delete("lm_head.weight");
		expectClose("absent", referenceForward(HAND, w, [0]), [Math.SQRT2, 0, Math.SQRT2], 1e-12);
	});
});

describe("referenceForward properties", () => {
	const w = randomWeights(SMALL, 1);

	test("prefix invariance and finite logits", () => {
		const full = referenceForward(SMALL, w, TOKENS);
		expect(full.every(Number.isFinite)).toBe(true);
		expectClose("prefix 5", referenceForward(SMALL, w, TOKENS.slice(0, 5)), full.subarray(0, 5 * SMALL.vocab), 1e-12);
	});

	test("window 1: every position sees only itself, so it equals that token alone", () => {
		const cfg = { ...SMALL, slidingWindow: 1 };
		const full = referenceForward(cfg, w, TOKENS);
		TOKENS.forEach((t, i) => {
			expectClose(`position ${i}`, full.subarray(i * SMALL.vocab, (i + 1) * SMALL.vocab), referenceForward(cfg, w, [t]), 1e-12);
		});
	});

	test("GQA reads kv head ⌊h / group⌋: equal to MHA with each kv head's rows repeated", () => {
		const mha = new Map(w);
		const rows = SMALL.headDim * SMALL.hidden;
		for (let l = 0; l < SMALL.layers; l++) {
			for (const m of ["k_proj", "v_proj"]) {
				const name = `model.layers.${l}.self_attn.${m}.weight`;
				const src = w.get(name)!;
				const out = new Float64Array(SMALL.heads * rows);
				for (let h = 0; h < SMALL.heads; h++) out.set(src.subarray((h >> 1) * rows, ((h >> 1) + 1) * rows), h * rows);
				mha.set(name, out);
			}
		}
		expectClose("gqa vs mha", referenceForward(SMALL, w, TOKENS), referenceForward({ ...SMALL, kvHeads: SMALL.heads }, mha, TOKENS), 1e-12);
	});

	test("loadReferenceWeights reads every tensor of a source as float64", async () => {
		const src = memorySource(new Map([["a", { shape: [2], data: Float32Array.from([0.5, -2]) }]]));
		const got = await loadReferenceWeights(src);
		expect([...got.get("a")!]).toEqual([0.5, -2]);
	});

	test("a missing tensor is an EvaluationError kind Config", () => {
		const partial = new Map(w);
		partial.delete("model.norm.weight");
		expect(() => referenceForward(SMALL, partial, [1])).toThrow(expect.objectContaining({ kind: "Config" }));
	});
});
