import { describe, expect, test } from "vitest";
import { ggufTensorName, isSkippedTensor, permuteRotaryRows, unpermuteRotaryRows } from "../../src/gguf/names.js";

describe("ggufTensorName", () => {
	test.each([
		["model.embed_tokens.weight", "token_embd.weight", undefined],
		["model.norm.weight", "output_norm.weight", undefined],
		["lm_head.weight", "output.weight", undefined],
		["model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight", undefined],
		["model.layers.12.self_attn.q_proj.weight", "blk.12.attn_q.weight", "q"],
		["model.layers.3.self_attn.k_proj.weight", "blk.3.attn_k.weight", "k"],
		["model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight", undefined],
		["model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight", undefined],
		["model.layers.31.post_attention_layernorm.weight", "blk.31.ffn_norm.weight", undefined],
		["model.layers.1.mlp.gate_proj.weight", "blk.1.ffn_gate.weight", undefined],
		["model.layers.1.mlp.up_proj.weight", "blk.1.ffn_up.weight", undefined],
		["model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight", undefined],
	])("%s → %s", (hf, name, rotary) => {
		const g = ggufTensorName(hf);
		expect(g?.name).toBe(name);
		expect(g?.rotary).toBe(rotary);
	});

	test("tensors the llama architecture has no place for map to nothing; rotary caches are skipped", () => {
		expect(ggufTensorName("model.layers.0.self_attn.q_proj.bias")).toBeUndefined();
		expect(ggufTensorName("transformer.wte.weight")).toBeUndefined();
		expect(isSkippedTensor("model.layers.0.self_attn.rotary_emb.inv_freq")).toBe(true);
	});
});

describe("permuteRotaryRows", () => {
	test("one head of 4 rotary rows: HF [x0, x1 | y0, y1] becomes llama.cpp's pairs [x0, y0, x1, y1]", () => {
		expect([...permuteRotaryRows(Float32Array.from([0, 1, 2, 3]), 1, 4)]).toEqual([0, 2, 1, 3]);
	});

	test("two heads of 4 rows × 2 columns move whole rows within each head", () => {
		const rows = Float32Array.from({ length: 16 }, (_, i) => i);
		expect([...permuteRotaryRows(rows, 2, 4)]).toEqual([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
	});

	test("head_dim 8: output row 2j+s is input row 4s+j; unpermute inverts it", () => {
		const rows = Float32Array.from({ length: 8 }, (_, i) => i);
		const p = permuteRotaryRows(rows, 1, 8);
		expect([...p]).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
		expect([...unpermuteRotaryRows(p, 1, 8)]).toEqual([...rows]);
	});

	test("rows that are not whole heads are refused", () => {
		expect(() => permuteRotaryRows(new Float32Array(6), 1, 4)).toThrow(RangeError);
	});
});
