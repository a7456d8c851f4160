import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadLlamaBackend } from "../../src/eval/backends/llama.js";
import { loadTfjsBackend } from "../../src/eval/backends/tfjs.js";
import type { ForwardBackend, ForwardRequest } from "../../src/eval/backends/types.js";
import { evaluate } from "../../src/eval/evaluate.js";
import { useTempDir } from "../helpers/fs.js";
import { type TinyMistralOptions, writeTinyMistral } from "../helpers/tiny-model.js";

/**
 * Issue 13's "done means": the llama backend's exact mode (F32 GGUF, F32 KV cache, no flash attention) agrees
 * with the tfjs forward pass (itself checked against the float64 reference) on tiny models covering GQA, tied
 * embeddings, head_dim ≠ hidden/heads and rope_theta 1e6: max |Δ log p| over the whole vocabulary ≤ 1e-4,
 * the same arg-max, and letter probabilities in the report within 1e-4.
 */
const TOL = 1e-4;
const BASE = { layers: 2, hidden: 32, intermediate: 64, heads: 4, kvHeads: 2, vocab: 96, initStd: 0.3, dtype: "F32" } as const;
const MODELS: Record<string, TinyMistralOptions> = {
	gqa: { ...BASE, seed: 1 },
	"tied embeddings": { ...BASE, tieEmbeddings: true, seed: 2 },
	"head_dim 16 ≠ hidden/heads 8": { ...BASE, headDim: 16, seed: 3 },
	"rope_theta 1e6": { ...BASE, ropeTheta: 1e6, kvHeads: 1, seed: 4 },
	"bf16 weights": { ...BASE, dtype: "BF16", seed: 5 },
};

const tmp = useTempDir("lm-merge-llama-backend-");
const dirOf = (name: string): string => join(tmp(), name.replace(/[^a-z0-9]+/gi, "-"));
const cache = (): string => join(tmp(), "gguf-cache");
/**
 * One llama.cpp thread: its worker threads spin at barriers, so on a loaded 2-core machine two threads run a
 * tiny model ~50× slower than one (measured: 0.5 s vs 0.01 s per prompt); results do not depend on it.
 */
const THREADS = 1;

beforeAll(async () => {
	for (const [name, opts] of Object.entries(MODELS)) await writeTinyMistral(dirOf(name), opts);
});

/** Prompts of several lengths sharing a 6-token prefix (like the BioMistral header), plus one that does not. */
function prompts(vocab: number): number[][] {
	const prefix = [1, 40, 41, 42, 43, 44];
	const out = [5, 11, 30, 61].map((n, p) => [...prefix, ...Array.from({ length: n }, (_, i) => 3 + ((i * 37 + p * 11) % (vocab - 3)))]);
	out.push([1, 7, 8, 9]);
	return out;
}

async function logprobs(b: ForwardBackend, reqs: ForwardRequest[], sharedPrefix?: number[]): Promise<Float32Array[][]> {
	const out: Float32Array[][] = [];
	await b.logprobs(reqs, { ...(sharedPrefix !== undefined ? { sharedPrefix } : {}), onResult: (i, rows) => (out[i] = rows) });
	return out;
}

function argmax(v: Float32Array): number {
	let best = 0;
	for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
	return best;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
	let m = 0;
	for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
	return m;
}

describe("exact mode: llama.cpp (f32) agrees with the tfjs forward pass", () => {
	const opened: ForwardBackend[] = [];
	afterAll(async () => {
		for (const b of opened) await b.dispose();
	});

	test.each(Object.keys(MODELS))(
		"%s",
		async (name) => {
			const dir = dirOf(name);
			const tfjs = await loadTfjsBackend(dir, { tfjsDevice: "cpu", streaming: false });
			const llama = await loadLlamaBackend(dir, { quant: "f32", device: "cpu", cacheDir: cache(), threads: THREADS });
			opened.push(tfjs, llama);
			expect(llama.info).toMatchObject({ backend: "llama", device: "cpu", quant: "f32" });
			expect(llama.info.detail).toContain("F32 KV cache, no flash attention");
			expect(llama.vocabSize).toBe(tfjs.vocabSize);
			const ps = prompts(tfjs.vocabSize);
			// every position of the longest prompt, and the last one of each (in an order that reuses and drops the cache)
			const reqs: ForwardRequest[] = [
				{ tokens: ps[3]!, positions: ps[3]!.map((_, i) => i) },
				...[2, 0, 4, 1, 3].map((p) => ({ tokens: ps[p]!, positions: [ps[p]!.length - 1] })),
			];
			const want = await logprobs(tfjs, reqs, ps[0]!.slice(0, 6));
			const got = await logprobs(llama, reqs, ps[0]!.slice(0, 6));
			let worst = 0;
			for (const [r, rows] of got.entries()) {
				for (const [k, row] of rows.entries()) {
					worst = Math.max(worst, maxDiff(row, want[r]![k]!));
					expect(argmax(row), `request ${r} row ${k}`).toBe(argmax(want[r]![k]!));
				}
			}
			console.log(`${name}: max |Δ log p| ${worst.toExponential(2)} over ${got.flat().length} rows × ${llama.vocabSize}`);
			expect(worst).toBeLessThan(TOL);
		},
		120_000,
	);
});

describe("the llama backend in evaluate()", () => {
	test("letter probabilities agree with tfjs to 1e-4 in the report, biomistral and harness modes; the GGUF is converted once", async () => {
		const dir = dirOf("gqa");
		const data = join(import.meta.dirname, "..", "fixtures", "eval", "medqa.jsonl");
		for (const mode of ["biomistral", "harness"] as const) {
			const base = { models: [dir], data, shots: 1, seeds: 2, mode };
			const tfjs = await evaluate({ ...base, tfjsDevice: "cpu" });
			const llama = await evaluate({ ...base, backend: "llama", device: "cpu", cacheDir: cache(), threads: THREADS });
			expect([llama.backend, llama.device, llama.quant]).toEqual(["llama", "cpu", "f32"]);
			expect(llama.runs[0]?.weights.endsWith("-f32.gguf")).toBe(true);
			expect(llama.items).toHaveLength(tfjs.items.length);
			let worst = 0;
			llama.items.forEach((it, i) => {
				const ref = tfjs.items[i]!;
				expect([it.task, it.id, it.seed]).toEqual([ref.task, ref.id, ref.seed]);
				for (const [l, p] of Object.entries(it.letter_probs)) worst = Math.max(worst, Math.abs(p - (ref.letter_probs[l] ?? NaN)));
				expect(it.top1_id).toBe(ref.top1_id);
				expect(it.correct).toBe(ref.correct);
			});
			expect(worst).toBeLessThan(TOL);
			expect(llama.tasks.medqa?.acc).toEqual(tfjs.tasks.medqa?.acc);
		}
		// one cache entry for the model in f32 (the GGUF and its note), reused by both runs
		expect(readdirSync(cache()).filter((f) => f.endsWith("-f32.gguf") && existsSync(join(cache(), `${f}.json`))).length).toBe(
			Object.keys(MODELS).length,
		);
	}, 180_000);

	test("a prompt as long as the context llama.cpp would create (512, 1024 tokens) is not shifted", async () => {
		const dir = dirOf("gqa");
		const tfjs = await loadTfjsBackend(dir, { tfjsDevice: "cpu", streaming: false });
		const llama = await loadLlamaBackend(dir, { quant: "f32", device: "cpu", cacheDir: cache(), threads: THREADS });
		try {
			for (const n of [512, 1024]) {
				const tokens = Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + 17) % 93));
				const reqs = [{ tokens, positions: [n - 1] }];
				const [want] = await logprobs(tfjs, reqs);
				const [got] = await logprobs(llama, reqs);
				expect(maxDiff(got![0]!, want![0]!), `${n} tokens`).toBeLessThan(TOL);
			}
		} finally {
			await tfjs.dispose();
			await llama.dispose();
		}
	}, 120_000);

	test("a .gguf is scored as is; a bad one is a one-line GgufError, --quant on a .gguf of another type a Config error", async () => {
		const gguf = readdirSync(cache()).find((f) => f.endsWith("-f32.gguf"))!;
		const b = await loadLlamaBackend(join(cache(), gguf), { device: "cpu", threads: THREADS });
		expect(b.info.quant).toBe("f32");
		await b.dispose();
		// A small weight file runs on one thread unless told otherwise; an explicit count is kept.
		const small = await loadLlamaBackend(join(cache(), gguf), { device: "cpu" });
		expect(small.info.detail).toContain("on cpu, 1 thread,");
		await small.dispose();
		const two = await loadLlamaBackend(join(cache(), gguf), { device: "cpu", threads: 2 });
		expect(two.info.detail).toContain("on cpu, 2 threads,");
		await two.dispose();
		await expect(loadLlamaBackend(join(cache(), gguf), { device: "cpu", quant: "q8_0", threads: THREADS })).rejects.toMatchObject({
			kind: "Config",
		});
		const bad = join(tmp(), "bad.gguf");
		writeFileSync(bad, "GGUF but not really a model file");
		const err = await loadLlamaBackend(bad, { device: "cpu", threads: THREADS }).catch((e: unknown) => e);
		expect(err).toMatchObject({ name: "GgufError" });
		expect(String((err as Error).message)).not.toContain("\n");
		expect((err as Error).message).toContain(bad);
		const notGguf = join(tmp(), "zeros.gguf");
		writeFileSync(notGguf, Buffer.alloc(64));
		await expect(loadLlamaBackend(notGguf, { device: "cpu", threads: THREADS })).rejects.toMatchObject({ kind: "BadMagic" });
	}, 60_000);
});
