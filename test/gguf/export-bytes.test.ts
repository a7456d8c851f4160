/**
 * The export's bytes do not depend on how it runs: one thread or two, one chunk per tensor or many, the compiled
 * encoders or the TypeScript ones. Every tensor of every type equals encodeRows (the TypeScript oracle) on the
 * source's float32 rows, permuted for llama.cpp where it should be: the bytes the export wrote before it had
 * compiled encoders and worker threads that write their own chunks.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { blockBuffer, encodeChunk } from "../../src/gguf/chunk-encoder.js";
import { encodeRows } from "../../src/gguf/encode.js";
import { exportGguf } from "../../src/gguf/export.js";
import type { ExportChunk } from "../../src/gguf/export-chunks.js";
import { GGUF_EXPORT_TYPES } from "../../src/gguf/mix.js";
import { permuteRotaryRows } from "../../src/gguf/names.js";
import { openGguf } from "../../src/gguf/reader.js";
import { encodeFromF32 } from "../../src/io/convert.js";
import { openModel } from "../../src/model/model-dir.js";
import { rngKey, uniformAt } from "../../src/tensor/rng.js";
import { wasmArena } from "../../src/wasm/kernels.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-gguf-bytes-");
const HEAD_DIM = 64;
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
const hfName = (gguf: string) => {
	const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(gguf);
	return m !== null ? `model.layers.${m[1]}.${HF_LAYER[m[2]!]}.weight` : HF_GLOBAL[gguf.replace(/\.weight$/, "")]!;
};

let dir = "";
beforeAll(async () => {
	dir = join(root(), "model");
	await writeTinyMistral(dir, {
		seed: 5,
		layers: 2,
		hidden: 256,
		intermediate: 512,
		heads: 4,
		kvHeads: 2,
		vocab: 96,
		initStd: 0.05,
		dtype: "BF16",
	});
}, 60_000);

describe("every type: the same bytes whatever the threads and chunks, and those of the TypeScript encoders", () => {
	for (const type of GGUF_EXPORT_TYPES) {
		test(type, { timeout: 120_000 }, async () => {
			const runs = [
				{ threads: 1 },
				{ threads: 2 },
				// 16 Ki values per chunk: q/k split per head (64 rows), the others in 64- or 32-row pieces, several chunks per worker.
				{ threads: 2, chunkValues: 2 ** 14 },
			];
			const files: Buffer[] = [];
			for (const [i, run] of runs.entries()) {
				const out = join(root(), `m-${type}-${i}.gguf`);
				await exportGguf(dir, { type, out, ...run });
				files.push(await readFile(out));
			}
			expect(files[1]!.equals(files[0]!)).toBe(true);
			expect(files[2]!.equals(files[0]!)).toBe(true);

			const g = await openGguf(join(root(), `m-${type}-0.gguf`));
			const src = await openModel(dir);
			try {
				for (const t of g.tensors) {
					let data = (await src.read(hfName(t.name))).data;
					if (/attn_[qk]\.weight$/.test(t.name)) data = permuteRotaryRows(data, t.dims[0]!, HEAD_DIM);
					const want = encodeRows(t.type, data);
					expect({ tensor: t.name, equal: Buffer.from(await g.readRaw(t.name)).equals(Buffer.from(want)) }).toEqual({
						tensor: t.name,
						equal: true,
					});
				}
			} finally {
				await g.close();
				await src.close();
			}
		});
	}
});

test("rows longer than an encode block (more than 64 Ki values) and rows permuted by head: the oracle's bytes", () => {
	const arena = wasmArena()!;
	const key = rngKey(3, "long-rows", 0);
	for (const [type, cols, rows, headDim] of [
		["Q4_K", 65536 * 2 + 512, 2, undefined],
		["Q8_0", 65536 + 32, 3, undefined],
		["F16", 65536 + 7, 2, undefined],
		["Q6_K", 512, 8, 4],
	] as const) {
		const values = new Float32Array(cols * rows).map((_, i) => (uniformAt(key, i) - 0.5) * 0.1);
		const raw = encodeFromF32(values, "BF16");
		const f32 = new Float32Array(values.length);
		for (let i = 0; i < f32.length; i++)
			f32[i] = new Float32Array(new Uint32Array([(raw[2 * i]! | (raw[2 * i + 1]! << 8)) << 16]).buffer)[0]!;
		const want = encodeRows(type, headDim !== undefined ? permuteRotaryRows(f32, cols, headDim) : f32);
		const chunk: ExportChunk = {
			tensor: 0,
			name: "t",
			file: "f",
			dtype: "BF16",
			start: 0,
			end: raw.byteLength,
			rows,
			cols,
			...(headDim !== undefined ? { headDim } : {}),
			type,
			position: 0,
			bytes: want.byteLength,
		};
		for (const a of [arena, undefined]) {
			const out = new Uint8Array(want.byteLength);
			encodeChunk(a, chunk, raw, out, blockBuffer(a));
			expect({ type, arena: a !== undefined, equal: Buffer.from(out).equals(Buffer.from(want)) }).toEqual({
				type,
				arena: a !== undefined,
				equal: true,
			});
		}
	}
});
