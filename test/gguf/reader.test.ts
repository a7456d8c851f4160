/**
 * Round trip through our own reader (every metadata key and every tensor of an export checked against the
 * source), and one crafted-bytes test per GgufError kind the reader raises.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { GgufError } from "../../src/errors.js";
import { GGUF_MAGIC } from "../../src/gguf/constants.js";
import { exportGguf, exportGgufIter } from "../../src/gguf/export.js";
import { layoutGguf } from "../../src/gguf/layout.js";
import { ByteSink, type GgufMetadata, gguf } from "../../src/gguf/metadata.js";
import { unpermuteRotaryRows } from "../../src/gguf/names.js";
import { openGguf } from "../../src/gguf/reader.js";
import { TokenType } from "../../src/gguf/vocab.js";
import { openModel } from "../../src/model/model-dir.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-gguf-reader-");

const HF: Record<string, string> = {
	"token_embd.weight": "model.embed_tokens.weight",
	"output_norm.weight": "model.norm.weight",
	"output.weight": "lm_head.weight",
};
const LAYER: Record<string, string> = {
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
const hfName = (g: string) =>
	HF[g] ?? g.replace(/^blk\.(\d+)\.(\w+)\.weight$/, (_, l: string, m: string) => `model.layers.${l}.${LAYER[m]}.weight`);

describe("an export read back", () => {
	test.each(["f32", "bf16"] as const)("%s: every metadata key and every tensor equals the source", async (type) => {
		const dir = join(root(), `rt-${type}`);
		await writeTinyMistral(dir, { seed: 5, dtype: "BF16", headDim: 8, ropeTheta: 1e6, slidingWindow: 32, rmsNormEps: 1e-5 });
		const out = join(root(), `rt-${type}.gguf`);
		await exportGguf(dir, { type, out, name: "tiny" });
		const g = await openGguf(out);
		const src = await openModel(dir);
		try {
			const m = Object.fromEntries(
				[...g.metadata].map(([k, v]) => [k, v.kind === "array" ? Array.from(v.value as ArrayLike<unknown>) : v.value]),
			);
			const tj = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")) as { model: { vocab: Record<string, number> } };
			const tokens = Object.entries(tj.model.vocab)
				.sort((a, b) => a[1] - b[1])
				.map(([t]) => t);
			expect(g.version).toBe(3);
			expect(m).toEqual({
				"general.architecture": "llama",
				"general.name": "tiny",
				"llama.vocab_size": 64,
				"llama.context_length": 32768,
				"llama.embedding_length": 16,
				"llama.block_count": 2,
				"llama.feed_forward_length": 32,
				"llama.rope.dimension_count": 8,
				"llama.attention.head_count": 4,
				"llama.attention.head_count_kv": 2,
				"llama.attention.key_length": 8,
				"llama.attention.value_length": 8,
				"llama.attention.layer_norm_rms_epsilon": Math.fround(1e-5),
				"llama.rope.freq_base": 1e6,
				"llama.attention.sliding_window": 32,
				"general.file_type": type === "f32" ? 0 : 32,
				"tokenizer.ggml.model": "llama",
				"tokenizer.ggml.tokens": tokens,
				"tokenizer.ggml.scores": expect.any(Array),
				"tokenizer.ggml.token_type": tokens.map((_token, i) =>
					i === 0 ? TokenType.UNKNOWN : i < 3 ? TokenType.CONTROL : TokenType.NORMAL,
				),
				"tokenizer.ggml.bos_token_id": 1,
				"tokenizer.ggml.eos_token_id": 2,
				"tokenizer.ggml.unknown_token_id": 0,
				"tokenizer.ggml.add_bos_token": true,
				"tokenizer.ggml.add_eos_token": false,
				"tokenizer.ggml.add_space_prefix": true,
			});
			// The first merge ("▁", "A") → "▁A" scores 0; single characters score below every merge.
			const scores = m["tokenizer.ggml.scores"] as number[];
			expect(scores[tokens.indexOf("\u2581A")]).toBe(-0);
			expect(scores[tokens.indexOf("a")]).toBe(-(18 + 1)); // 18 merges
			expect(g.tensors.map((t) => hfName(t.name)).sort()).toEqual(src.names().sort());
			for (const t of g.tensors) {
				const name = hfName(t.name);
				const info = src.info(name);
				expect(t.dims, t.name).toEqual([...info.shape].reverse());
				expect(t.type, t.name).toBe(t.dims.length === 1 ? "F32" : type.toUpperCase());
				let data = await g.readF32(t.name);
				if (/attn_[qk]\.weight$/.test(t.name)) data = unpermuteRotaryRows(data, t.dims[0]!, 8);
				expect([...data], t.name).toEqual([...(await src.read(name)).data]);
			}
			expect(g.dataStart % 32).toBe(0);
			expect(g.tensors.every((t) => t.offset % 32 === 0)).toBe(true);
		} finally {
			await g.close();
			await src.close();
		}
	});
});

/** A small valid GGUF file: two metadata keys, one F32 tensor of 8 values. */
function validFile(extra: GgufMetadata = new Map()): Uint8Array {
	const meta: GgufMetadata = new Map([["general.architecture", gguf.str("llama")], ...extra]);
	const layout = layoutGguf(meta, [{ name: "t", dims: [8], type: "F32" }], "x");
	const out = new Uint8Array(layout.fileSize);
	out.set(layout.header);
	new Float32Array(out.buffer, layout.dataStart, 8).set([1, 2, 3, 4, 5, 6, 7, 8]);
	return out;
}

async function expectKind(bytes: Uint8Array, kind: GgufError["kind"]): Promise<void> {
	const file = join(root(), `bad-${kind}-${Math.random().toString(36).slice(2)}.gguf`);
	await writeFile(file, bytes);
	const err = await openGguf(file).then(
		() => undefined,
		(e: unknown) => e,
	);
	expect(err).toBeInstanceOf(GgufError);
	expect((err as GgufError).kind).toBe(kind);
	expect((err as GgufError).message).toContain(file);
	expect((err as GgufError).message).not.toContain("\n");
}

describe("bad GGUF files: one error kind each, naming the file", () => {
	test("the valid base file reads", async () => {
		const file = join(root(), "valid.gguf");
		await writeFile(file, validFile());
		const g = await openGguf(file);
		expect([...(await g.readF32("t"))]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
		await g.close();
	});

	test("wrong magic → BadMagic", async () => {
		const b = validFile();
		b.set(new TextEncoder().encode("GGML"), 0);
		await expectKind(b, "BadMagic");
	});

	test("a safetensors file → BadMagic", async () => {
		await expectKind(Uint8Array.from([8, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode("{}      ")]), "BadMagic");
	});

	test("version 1 → UnsupportedVersion", async () => {
		const b = validFile();
		new DataView(b.buffer).setUint32(4, 1, true);
		await expectKind(b, "UnsupportedVersion");
	});

	test("cut inside the metadata → Truncated", async () => {
		await expectKind(validFile().subarray(0, 40), "Truncated");
	});

	test("cut inside the tensor data → Truncated", async () => {
		const b = validFile();
		await expectKind(b.subarray(0, b.byteLength - 4), "Truncated");
	});

	test("a tensor count far beyond the file → Truncated", async () => {
		const b = validFile();
		new DataView(b.buffer).setBigUint64(8, 1n << 40n, true);
		await expectKind(b, "Truncated");
	});

	test("general.alignment that is not a power of two → BadAlignment", async () => {
		await expectKind(validFile(new Map([["general.alignment", gguf.u32(24)]])), "BadAlignment");
	});

	test("a tensor offset off the alignment → BadAlignment", async () => {
		const sink = new ByteSink();
		sink.u32(GGUF_MAGIC);
		sink.u32(3);
		sink.u64(1);
		sink.u64(0);
		sink.string("t");
		sink.u32(1);
		sink.u64(8);
		sink.u32(0);
		sink.u64(4);
		sink.zeros(64 + 32);
		await expectKind(sink.result(), "BadAlignment");
	});

	test("an unknown metadata value type → InvalidMetadata", async () => {
		const b = validFile();
		// magic, version, 2 counts (24 bytes), key length (8) + "general.architecture" (20): the type tag follows.
		new DataView(b.buffer).setUint32(24 + 8 + 20, 99, true);
		await expectKind(b, "InvalidMetadata");
	});

	test("five dimensions → InvalidTensorInfo", async () => {
		const sink = new ByteSink();
		sink.u32(GGUF_MAGIC);
		sink.u32(3);
		sink.u64(1);
		sink.u64(0);
		sink.string("t");
		sink.u32(5);
		for (let i = 0; i < 5; i++) sink.u64(1);
		sink.u32(0);
		sink.u64(0);
		sink.zeros(64);
		await expectKind(sink.result(), "InvalidTensorInfo");
	});

	test("an unknown ggml type → InvalidTensorInfo", async () => {
		const sink = new ByteSink();
		sink.u32(GGUF_MAGIC);
		sink.u32(3);
		sink.u64(1);
		sink.u64(0);
		sink.string("t");
		sink.u32(1);
		sink.u64(32);
		sink.u32(77);
		sink.u64(0);
		sink.zeros(256);
		await expectKind(sink.result(), "InvalidTensorInfo");
	});
});

describe("writing", () => {
	test("an existing output is refused without force (nothing written), replaced with it; no temporary file stays", async () => {
		const dir = join(root(), "w");
		await writeTinyMistral(dir, { seed: 1 });
		const out = join(root(), "w-out", "m.gguf");
		await exportGguf(dir, { type: "f16", out });
		const before = await readFile(out);
		const err = await exportGguf(dir, { type: "f32", out }).then(
			() => undefined,
			(e: unknown) => e,
		);
		expect((err as GgufError).kind).toBe("OutputExists");
		expect(await readFile(out)).toEqual(before);
		await exportGguf(dir, { type: "f32", out, force: true });
		expect((await readFile(out)).byteLength).toBeGreaterThan(before.byteLength);
		expect(await readdir(join(root(), "w-out"))).toEqual(["m.gguf"]);
	});

	test("the encode pool changes nothing: 1 and 3 threads write byte-identical q4_k_m files", async () => {
		const dir = join(root(), "threads");
		await writeTinyMistral(dir, { seed: 4, hidden: 256, intermediate: 512, layers: 1 });
		await exportGguf(dir, { type: "q4_k_m", out: join(root(), "t1.gguf"), threads: 1 });
		await exportGguf(dir, { type: "q4_k_m", out: join(root(), "t3.gguf"), threads: 3 });
		expect(Buffer.compare(await readFile(join(root(), "t1.gguf")), await readFile(join(root(), "t3.gguf")))).toBe(0);
	});

	test("an aborted export leaves neither the output nor its temporary file", async () => {
		const dir = join(root(), "w2");
		await writeTinyMistral(dir, { seed: 2 });
		const controller = new AbortController();
		controller.abort();
		const err = await exportGguf(dir, { type: "q8_0", out: join(root(), "w2-out", "m.gguf"), signal: controller.signal }).then(
			() => undefined,
			(e: unknown) => e,
		);
		expect((err as { kind?: string }).kind).toBe("Interrupted");
		expect(await readdir(join(root(), "w2-out"))).toEqual([]);
	});

	test("a consumer that stops iterating mid-export leaves no temporary file", async () => {
		const dir = join(root(), "w4");
		await writeTinyMistral(dir, { seed: 4 });
		const gen = exportGgufIter(dir, { type: "f16", out: join(root(), "w4-out", "m.gguf") });
		for (;;) {
			const r = await gen.next();
			if (r.done === true || r.value.event === "tensor") break;
		}
		await gen.return(undefined as never);
		expect(await readdir(join(root(), "w4-out"))).toEqual([]);
	});

	test("a model without tokenizer.json is refused before anything is written", async () => {
		const dir = join(root(), "w3");
		await writeTinyMistral(dir, { seed: 3, tokenizer: false });
		const err = await exportGguf(dir, { type: "f16", out: join(root(), "w3.gguf") }).then(
			() => undefined,
			(e: unknown) => e,
		);
		expect((err as GgufError).kind).toBe("UnsupportedTokenizer");
	});
});
