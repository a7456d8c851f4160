/**
 * Applying a PEFT LoRA adapter: every adapted tensor equals the hand-computed W + (α/r)·B·A (float64 sum, rounded to
 * float32 and then the model's dtype), for linear layers, fan_in_fan_out layers and embeddings, with rank/alpha
 * patterns and rsLoRA; replacements and untouched tensors; element-range reads; and each refusal's kind.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { LoraError } from "../../src/errors.js";
import { decodeToF32, encodeFromF32 } from "../../src/io/convert.js";
import { openModelWithAdapter } from "../../src/lora/open.js";
import { type ModelSource, openModel } from "../../src/model/model-dir.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";
import { embeddingNames, loraNames, randn, writeAdapter } from "../helpers/lora.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-lora-apply-");
const SHAPE = { layers: 2, hidden: 16, intermediate: 32, heads: 4, kvHeads: 2, vocab: 64, tokenizer: false } as const;
let f32Model: string;
let bf16Model: string;

beforeAll(async () => {
	f32Model = path.join(root(), "f32");
	bf16Model = path.join(root(), "bf16");
	await writeTinyMistral(f32Model, { ...SHAPE, seed: 1, dtype: "F32" });
	await writeTinyMistral(bf16Model, { ...SHAPE, seed: 1, dtype: "BF16" });
});

/** W[row, col] + scale · Σ_k L(row, k) · R(k, col), in float64 with k ascending, rounded to float32. */
function expected(
	w: Float32Array,
	rows: number,
	cols: number,
	rank: number,
	scale: number,
	l: (row: number, k: number) => number,
	r: (k: number, col: number) => number,
): Float32Array {
	const out = new Float32Array(rows * cols);
	for (let row = 0; row < rows; row++) {
		for (let col = 0; col < cols; col++) {
			let sum = 0;
			for (let k = 0; k < rank; k++) sum += l(row, k) * r(k, col);
			out[row * cols + col] = w[row * cols + col]! + scale * sum;
		}
	}
	return out;
}

async function withModel<T>(model: string, adapter: string, fn: (m: ModelSource, base: ModelSource) => Promise<T>): Promise<T> {
	const m = await openModelWithAdapter({ path: model, adapter });
	const base = await openModel(model);
	try {
		return await fn(m, base);
	} finally {
		await m.close();
		await base.close();
	}
}

describe("W + (α/r)·B·A", () => {
	const q = "model.layers.0.self_attn.q_proj";
	const down = "model.layers.1.mlp.down_proj";
	const embed = "model.embed_tokens";
	const A = randn("A", 2 * 16);
	const B = randn("B", 16 * 2);
	const downA = randn("dA", 3 * 32); // rank 3 by rank_pattern, (r, in = intermediate)
	const downB = randn("dB", 16 * 3);
	const eA = randn("eA", 2 * 64); // (r, vocab)
	const eB = randn("eB", 16 * 2); // (dim, r)
	const norm = randn("norm", 16, 1);
	let adapter: string;

	beforeAll(async () => {
		adapter = await writeAdapter(
			path.join(root(), "adapter"),
			{
				r: 2,
				lora_alpha: 4,
				rank_pattern: { down_proj: 3 },
				alpha_pattern: { "layers\\.1\\.mlp\\.down_proj": 9 },
				target_modules: ["q_proj", "down_proj", "embed_tokens"],
			},
			[
				{ name: loraNames(q).a, shape: [2, 16], data: A },
				{ name: loraNames(q).b, shape: [16, 2], data: B, dtype: "BF16" },
				{ name: loraNames(down).a, shape: [3, 32], data: downA },
				{ name: loraNames(down).b, shape: [16, 3], data: downB },
				{ name: embeddingNames(embed).a, shape: [2, 64], data: eA },
				{ name: embeddingNames(embed).b, shape: [16, 2], data: eB },
				{ name: "base_model.model.model.norm.weight", shape: [16], data: norm },
			],
		);
	});

	test("a linear layer: α/r = 4/2, B stored in bf16", async () => {
		await withModel(f32Model, adapter, async (m, base) => {
			const w = (await base.read(`${q}.weight`)).data;
			const b16 = decodeToF32(encodeFromF32(B, "BF16"), "BF16");
			const want = expected(
				w,
				16,
				16,
				2,
				2,
				(o, k) => b16[o * 2 + k]!,
				(k, i) => A[k * 16 + i]!,
			);
			expect(Array.from((await m.read(`${q}.weight`)).data)).toEqual(Array.from(want));
		});
	});

	test("rank_pattern and alpha_pattern pick r = 3, α = 9 for one module", async () => {
		await withModel(f32Model, adapter, async (m, base) => {
			const w = (await base.read(`${down}.weight`)).data;
			const want = expected(
				w,
				16,
				32,
				3,
				9 / 3,
				(o, k) => downB[o * 3 + k]!,
				(k, i) => downA[k * 32 + i]!,
			);
			expect(Array.from((await m.read(`${down}.weight`)).data)).toEqual(Array.from(want));
		});
	});

	test("an embedding: W[v, d] += (α/r) Σ B[d,k] A[k,v]", async () => {
		await withModel(f32Model, adapter, async (m, base) => {
			const w = (await base.read(`${embed}.weight`)).data;
			const want = expected(
				w,
				64,
				16,
				2,
				2,
				(v, k) => eA[k * 64 + v]!,
				(k, d) => eB[d * 2 + k]!,
			);
			expect(Array.from((await m.read(`${embed}.weight`)).data)).toEqual(Array.from(want));
		});
	});

	test("replacements read from the adapter; other tensors are the model's bytes", async () => {
		await withModel(f32Model, adapter, async (m, base) => {
			expect(Array.from((await m.read("model.norm.weight")).data)).toEqual(Array.from(norm));
			for (const name of base
				.names()
				.filter((n) => ![`${q}.weight`, `${down}.weight`, `${embed}.weight`, "model.norm.weight"].includes(n))) {
				expect(Buffer.from(await m.readRaw(name)).equals(Buffer.from(await base.readRaw(name))), name).toBe(true);
			}
		});
	});

	test("a bf16 model: the same sum rounded once more to bf16; rows, byte ranges and aligned reads agree", async () => {
		await withModel(bf16Model, adapter, async (m, base) => {
			const w = (await base.read(`${down}.weight`)).data;
			const want = encodeFromF32(
				expected(
					w,
					16,
					32,
					3,
					3,
					(o, k) => downB[o * 3 + k]!,
					(k, i) => downA[k * 32 + i]!,
				),
				"BF16",
			);
			const name = `${down}.weight`;
			expect(Buffer.from(await m.readRaw(name)).equals(Buffer.from(want))).toBe(true);
			expect(Buffer.from(await m.readRaw(name, 70, 302)).equals(Buffer.from(want.subarray(70, 302)))).toBe(true);
			const rows = await m.readRows(name, 3, 5);
			expect(Array.from(rows.data)).toEqual(Array.from(decodeToF32(want.subarray(3 * 64, 5 * 64), "BF16")));
			const got = await m.readRawAligned!(name, 2, 66, new Uint8Array(8192));
			expect(Buffer.from(got).equals(Buffer.from(want.subarray(2, 66)))).toBe(true);
		});
	});
});

test("fan_in_fan_out: a (in, out) weight gets W[i, o] += (α/r) Σ A[k,i] B[o,k]; use_rslora scales by α/√r", async () => {
	const down = "model.layers.0.mlp.down_proj"; // stored (16, 32): read as (in = 16, out = 32)
	const A = randn("fA", 4 * 16);
	const B = randn("fB", 32 * 4);
	const adapter = await writeAdapter(path.join(root(), "fifo"), { r: 4, lora_alpha: 6, fan_in_fan_out: true, use_rslora: true }, [
		{ name: loraNames(down).a, shape: [4, 16], data: A },
		{ name: loraNames(down).b, shape: [32, 4], data: B },
	]);
	await withModel(f32Model, adapter, async (m, base) => {
		const w = (await base.read(`${down}.weight`)).data;
		const want = expected(
			w,
			16,
			32,
			4,
			6 / Math.sqrt(4),
			(i, k) => A[k * 16 + i]!,
			(k, o) => B[o * 4 + k]!,
		);
		expect(Array.from((await m.read(`${down}.weight`)).data)).toEqual(Array.from(want));
	});
});

describe("refusals", () => {
	const q = "model.layers.0.self_attn.q_proj";
	const good = () => [
		{ name: loraNames(q).a, shape: [2, 16], data: randn("a", 32) },
		{ name: loraNames(q).b, shape: [16, 2], data: randn("b", 32) },
	];
	let n = 0;
	const attempt = async (config: Record<string, unknown>, tensors: Parameters<typeof writeAdapter>[2]) => {
		const dir = await writeAdapter(path.join(root(), `bad-${n++}`), config, tensors);
		return rejected(openModelWithAdapter({ path: f32Model, adapter: dir }), LoraError);
	};

	test.each([
		[
			"a module the model lacks",
			{ r: 2 },
			() => [
				{ name: loraNames("model.layers.7.self_attn.q_proj").a, shape: [2, 16], data: randn("a", 32) },
				{ name: loraNames("model.layers.7.self_attn.q_proj").b, shape: [16, 2], data: randn("b", 32) },
			],
			"UnknownModule",
			/model\.layers\.7\.self_attn\.q_proj\.weight/,
		],
		[
			"factors of the wrong size",
			{ r: 2 },
			() => [
				{ name: loraNames(q).a, shape: [2, 8], data: randn("a", 16) },
				{ name: loraNames(q).b, shape: [16, 2], data: randn("b", 32) },
			],
			"ShapeMismatch",
			/\[16, 16\].*\[16, 8\]/,
		],
		["A without B", { r: 2 }, () => [good()[0]!], "MissingWeights", /lora_A but no lora_B/],
		["a rank that differs from r", { r: 4 }, good, "InvalidWeights", /rank 2 in its weights but 4/],
		["DoRA", { r: 2, use_dora: true }, good, "Unsupported", /DoRA/],
		[
			"a DoRA magnitude tensor",
			{ r: 2 },
			() => [...good(), { name: `base_model.model.${q}.lora_magnitude_vector`, shape: [16], data: randn("m", 16) }],
			"Unsupported",
			/lora_magnitude_vector/,
		],
		["another PEFT type", { peft_type: "IA3" }, good, "Unsupported", /IA3/],
		["a bad pattern", { r: 2, rank_pattern: { "q_proj(": 2 } }, good, "InvalidConfig", /not a valid pattern/],
		[
			"names without the PEFT prefix",
			{ r: 2 },
			() => [{ name: `${q}.lora_A.weight`, shape: [2, 16], data: randn("a", 32) }],
			"InvalidWeights",
			/base_model\.model\./,
		],
	])("%s", async (_, config, tensors, kind, message) => {
		const err = await attempt(config, tensors());
		expect(err.kind).toBe(kind);
		expect(err.message).toMatch(message);
	});

	test("a folder without adapter_config.json, or with bad JSON", async () => {
		const err = await rejected(openModelWithAdapter({ path: f32Model, adapter: f32Model }), LoraError);
		expect(err.kind).toBe("InvalidConfig");
		const dir = await writeAdapter(path.join(root(), "badjson"), {}, good());
		await writeFile(path.join(dir, "adapter_config.json"), "{ nope");
		expect((await rejected(openModelWithAdapter({ path: f32Model, adapter: dir }), LoraError)).kind).toBe("InvalidConfig");
	});
});
