import { createRequire } from "node:module";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { EvaluationError } from "../../src/errors.js";
import { createEvalModel, loadEvalModel, streamingProvider } from "../../src/eval/eval-model.js";
import { forward } from "../../src/eval/forward.js";
import { type MistralConfig, toMistralConfig } from "../../src/eval/mistral-config.js";
import { commonPrefixLength } from "../../src/eval/model/batch.js";
import { createRunState } from "../../src/eval/model/run-state.js";
import { createPrefixCache, disposePrefixCache, runSequences } from "../../src/eval/model/scheduler.js";
import { loadReferenceWeights, referenceForward } from "../../src/eval/reference.js";
import { type Device, describeBackend, initTfjs } from "../../src/eval/tfjs-backend.js";
import { disposeMistralWeights, loadMistralWeights } from "../../src/eval/weights.js";
import type { TensorSource } from "../../src/io/types.js";
import { type ModelConfig, parseModelConfig } from "../../src/model/config.js";
import { openModel } from "../../src/model/model-dir.js";
import type { Tensor } from "../../src/tensor/tensor.js";
import { useTempDir } from "../helpers/fs.js";
import { type TinyMistralOptions, writeTinyMistral } from "../helpers/tiny-model.js";
import { argmaxRow, expectClose, memorySource, readAll } from "./memory-source.js";

/** Weights this large make attention and logits far from uniform, so the comparisons have teeth. */
const INIT_STD = 0.3;
const TINY = { layers: 2, hidden: 32, intermediate: 64, heads: 4, kvHeads: 2, vocab: 64, initStd: INIT_STD, tokenizer: false } as const;
const PROMPT = [1, 17, 5, 42, 9, 33, 60, 2, 28, 11];
/** float32 forward vs float64 reference on logits of magnitude ~1–10. */
const TOL = 1e-4;

const MODELS: Record<string, TinyMistralOptions> = {
	"gqa f32 window 4": { ...TINY, dtype: "F32", slidingWindow: 4, seed: 1 },
	"gqa bf16 window 4": { ...TINY, dtype: "BF16", slidingWindow: 4, seed: 2 },
	"tied embeddings f16": { ...TINY, dtype: "F16", tieEmbeddings: true, seed: 3 },
	"mha f32 no window": { ...TINY, dtype: "F32", kvHeads: 4, seed: 4 },
	"head_dim 16 from config": { ...TINY, dtype: "F32", headDim: 16, seed: 5 },
};

const root = useTempDir("lm-merge-forward-");

beforeAll(async () => {
	for (const [name, opts] of Object.entries(MODELS)) await writeTinyMistral(join(root(), name.replace(/ /g, "-")), opts);
});

const dirOf = (name: string): string => join(root(), name.replace(/ /g, "-"));

async function withSource<T>(name: string, fn: (src: TensorSource, cfg: MistralConfig, raw: ModelConfig) => Promise<T>): Promise<T> {
	const src = await openModel(dirOf(name));
	try {
		return await fn(src, toMistralConfig(src.config!, src.location), src.config!);
	} finally {
		await src.close();
	}
}

/** Full-prompt logits from the tfjs forward pass on `device` (attention in blocks of `queryChunk` query rows). */
async function tfjsLogits(
	src: TensorSource,
	cfg: MistralConfig,
	tokens: number[],
	device: Device = "cpu",
	queryChunk?: number,
): Promise<Float32Array> {
	const tf = await initTfjs(device);
	const w = await loadMistralWeights(tf, src, cfg);
	try {
		return forward(tf, cfg, w, tokens, createRunState(cfg, queryChunk));
	} finally {
		disposeMistralWeights(w);
	}
}

function expectSameArgmax(actual: ArrayLike<number>, expected: ArrayLike<number>, rows: number, vocab: number): void {
	for (let r = 0; r < rows; r++) expect(argmaxRow(actual, r, vocab), `arg-max at position ${r}`).toBe(argmaxRow(expected, r, vocab));
}

describe("forward vs the float64 reference (cpu backend)", () => {
	test.each(Object.keys(MODELS))("%s", async (name) => {
		await withSource(name, async (src, cfg) => {
			const got = await tfjsLogits(src, cfg, PROMPT);
			const want = referenceForward(cfg, await loadReferenceWeights(src), PROMPT);
			expect(got.every(Number.isFinite)).toBe(true);
			const maxDiff = expectClose(name, got, want, TOL, cfg.vocab);
			console.log(`${name}: logits OK, maxdiff ${maxDiff.toExponential(2)}`);
			expectSameArgmax(got, want, PROMPT.length, cfg.vocab);
		});
	});

	test.each(Object.keys(MODELS))("%s, attention in blocks of 3 query rows", async (name) => {
		await withSource(name, async (src, cfg) => {
			const got = await tfjsLogits(src, cfg, PROMPT, "cpu", 3);
			const want = referenceForward(cfg, await loadReferenceWeights(src), PROMPT);
			expectClose(`${name} (blocks of 3)`, got, want, TOL, cfg.vocab);
			expectSameArgmax(got, want, PROMPT.length, cfg.vocab);
		});
	});

	test("wasm backend matches the reference too", async () => {
		await withSource("gqa bf16 window 4", async (src, cfg) => {
			const got = await tfjsLogits(src, cfg, PROMPT, "wasm");
			const want = referenceForward(cfg, await loadReferenceWeights(src), PROMPT);
			console.log(`wasm: logits OK, maxdiff ${expectClose("wasm", got, want, TOL, cfg.vocab).toExponential(2)}`);
			expectSameArgmax(got, want, PROMPT.length, cfg.vocab);
		});
	});
});

describe("invariants", () => {
	test("prefix invariance: logits at position i do not change when tokens are appended", async () => {
		await withSource("gqa f32 window 4", async (src, cfg) => {
			const full = await tfjsLogits(src, cfg, PROMPT);
			for (const n of [1, 3, 7]) {
				const part = await tfjsLogits(src, cfg, PROMPT.slice(0, n));
				expectClose(`first ${n}`, part, full.subarray(0, n * cfg.vocab), 1e-5, cfg.vocab);
			}
		});
	});

	test("GQA equals plain attention over kv heads repeated per query head", async () => {
		await withSource("gqa f32 window 4", async (src, cfg, raw) => {
			const tensors = await readAll(src);
			const group = cfg.heads / cfg.kvHeads;
			const rowLen = cfg.hidden * cfg.headDim;
			for (let l = 0; l < cfg.layers; l++) {
				for (const m of ["k_proj", "v_proj"]) {
					const name = `model.layers.${l}.self_attn.${m}.weight`;
					const t = tensors.get(name)!;
					// query head h reads kv head ⌊h / group⌋: copy that head's rows for every h
					const out = new Float32Array(cfg.heads * rowLen);
					for (let h = 0; h < cfg.heads; h++)
						out.set(t.data.subarray(Math.floor(h / group) * rowLen, (Math.floor(h / group) + 1) * rowLen), h * rowLen);
					tensors.set(name, { shape: [cfg.heads * cfg.headDim, cfg.hidden], data: out } satisfies Tensor);
				}
			}
			const mhaCfg = toMistralConfig(parseModelConfig({ ...raw.raw, num_key_value_heads: cfg.heads }, "mha"), "mha");
			const gqa = await tfjsLogits(src, cfg, PROMPT);
			const mha = await tfjsLogits(memorySource(tensors), mhaCfg, PROMPT);
			expectClose("gqa vs repeated-kv mha", gqa, mha, 1e-5, cfg.vocab);
		});
	});

	test("a window at least as long as the prompt equals plain causal attention; a shorter one only changes later positions", async () => {
		await withSource("gqa f32 window 4", async (src, cfg) => {
			const windowed = await tfjsLogits(src, cfg, PROMPT);
			const plain = await tfjsLogits(src, { ...cfg, slidingWindow: null }, PROMPT);
			const long = await tfjsLogits(src, { ...cfg, slidingWindow: PROMPT.length }, PROMPT);
			expectClose("window = length", long, plain, 1e-6, cfg.vocab);
			// positions 0..3 see at most 4 keys either way
			expectClose("inside the window", windowed.subarray(0, 4 * cfg.vocab), plain.subarray(0, 4 * cfg.vocab), 1e-6, cfg.vocab);
			const late = windowed.subarray(9 * cfg.vocab);
			const latePlain = plain.subarray(9 * cfg.vocab);
			expect(Math.max(...late.map((v, i) => Math.abs(v - latePlain[i]!)))).toBeGreaterThan(1e-3);
		});
	});
});

const PROMPTS = [PROMPT, [...PROMPT.slice(0, 4), 7, 8, 9], PROMPT.slice(0, 4), [3, 3, 3], [...PROMPT, 50, 51, 52, 53, 54]];
const SHARED = PROMPT.slice(0, 4);

describe("EvalModel", () => {
	test("lastLogits: batches, the shared-prefix cache and streaming all equal one-prompt forward passes", async () => {
		await withSource("gqa bf16 window 4", async (src, cfg, raw) => {
			const want = await Promise.all(PROMPTS.map(async (p) => (await tfjsLogits(src, cfg, p)).slice((p.length - 1) * cfg.vocab)));
			for (const streaming of [false, true]) {
				const model = await createEvalModel(src, raw, { device: "cpu", streaming });
				expect(model.streaming).toBe(streaming);
				try {
					const variants = {
						"one at a time": await model.lastLogits(PROMPTS, { batchSize: 1 }),
						batched: await model.lastLogits(PROMPTS, { batchSize: 4 }),
						"shared prefix": await model.lastLogits(PROMPTS, { sharedPrefix: SHARED, batchSize: 3 }),
						"shared prefix again (cache reused)": await model.lastLogits(PROMPTS, { sharedPrefix: SHARED }),
					};
					for (const [label, got] of Object.entries(variants)) {
						got.forEach((row, i) => {
							expectClose(`streaming=${streaming} ${label} prompt ${i}`, row, want[i]!, 1e-5);
						});
					}
				} finally {
					await model.dispose();
				}
			}
		});
	});

	test("streaming in several waves with a prefix cache equals in-memory", async () => {
		await withSource("gqa f32 window 4", async (src, cfg) => {
			const tf = await initTfjs("cpu");
			const state = createRunState(cfg);
			const provider = await streamingProvider(tf, src, cfg);
			const reqs = PROMPTS.map((p) => ({
				tokens: p,
				prefixUsed: Math.min(commonPrefixLength(p, SHARED), p.length - 1),
				outputs: [p.length - 1],
			}));
			const got: Float32Array[] = [];
			const prefix = createPrefixCache(tf, cfg, state, provider.embed, SHARED);
			let progress = 0;
			await runSequences(tf, cfg, state, provider, reqs, prefix, {
				maxSequences: 2,
				maxRows: 12,
				waveRows: 12,
				logSoftmax: false,
				onBatch: (b, rows) => {
					for (const [k, r] of b.requests.entries()) got[r] = rows.slice(k * cfg.vocab, (k + 1) * cfg.vocab);
				},
				onProgress: (d) => {
					progress = d;
				},
			});
			disposePrefixCache(prefix);
			expect(progress).toBe(PROMPTS.length);
			for (let i = 0; i < PROMPTS.length; i++) {
				const p = PROMPTS[i]!;
				const want = (await tfjsLogits(src, cfg, p)).slice((p.length - 1) * cfg.vocab);
				expectClose(`prompt ${i}`, got[i]!, want, 1e-5);
			}
		});
	});

	test("continuationLogprobs sums log-softmax of the right positions and detects greedy continuations", async () => {
		await withSource("tied embeddings f16", async (src, cfg, raw) => {
			const full = await tfjsLogits(src, cfg, PROMPT);
			const V = cfg.vocab;
			const logSoftmax = (r: number, id: number): number => {
				const row = Array.from(full.subarray(r * V, (r + 1) * V));
				const max = Math.max(...row);
				return row[id]! - max - Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
			};
			const greedy = [argmaxRow(full, 5, V), argmaxRow(full, 6, V)];
			const ctx = PROMPT.slice(0, 6);
			const model = await createEvalModel(src, raw, { device: "cpu", streaming: false });
			try {
				const [a, b] = await model.continuationLogprobs(
					[
						{ context: ctx, continuation: PROMPT.slice(6, 9) },
						{ context: ctx, continuation: [greedy[0]!] },
					],
					{ sharedPrefix: PROMPT.slice(0, 3) },
				);
				expect(a!.logprob).toBeCloseTo(logSoftmax(5, PROMPT[6]!) + logSoftmax(6, PROMPT[7]!) + logSoftmax(7, PROMPT[8]!), 4);
				expect(a!.isGreedy).toBe(argmaxRow(full, 5, V) === PROMPT[6] && greedy[1] === PROMPT[7] && argmaxRow(full, 7, V) === PROMPT[8]);
				expect(b!.logprob).toBeCloseTo(logSoftmax(5, greedy[0]!), 4);
				expect(b!.isGreedy).toBe(true);
			} finally {
				await model.dispose();
			}
		});
	});

	test("loadEvalModel opens a folder; auto streaming follows maxMemoryBytes", async () => {
		const small = await loadEvalModel(dirOf("mha f32 no window"), { device: "cpu" });
		const tight = await loadEvalModel(dirOf("mha f32 no window"), { device: "cpu", maxMemoryBytes: 1000 });
		try {
			expect(small.streaming).toBe(false);
			expect(tight.streaming).toBe(true);
			const [a] = await small.lastLogits([PROMPT]);
			const [b] = await tight.lastLogits([PROMPT]);
			expectClose("auto streaming", b!, a!, 1e-6);
		} finally {
			await small.dispose();
			await tight.dispose();
		}
	});

	test("bad inputs throw EvaluationError kind Data", async () => {
		await withSource("mha f32 no window", async (src, _cfg, raw) => {
			const model = await createEvalModel(src, raw, { device: "cpu", streaming: false });
			try {
				await expect(model.lastLogits([[]])).rejects.toMatchObject({ kind: "Data" });
				await expect(model.lastLogits([[1, 64]])).rejects.toMatchObject({ kind: "Data" });
				await expect(model.continuationLogprobs([{ context: [], continuation: [1] }])).rejects.toMatchObject({ kind: "Data" });
			} finally {
				await model.dispose();
			}
		});
	});
});

describe("initTfjs", () => {
	const installed = (pkg: string): boolean => {
		try {
			createRequire(import.meta.url).resolve(pkg);
			return true;
		} catch {
			return false;
		}
	};
	test.runIf(!installed("@tensorflow/tfjs-node-gpu"))(
		"gpu without tfjs-node-gpu is an EvaluationError Backend naming the package",
		async () => {
			const err = await initTfjs("gpu").catch((e: unknown) => e);
			expect(err).toBeInstanceOf(EvaluationError);
			expect((err as EvaluationError).kind).toBe("Backend");
			expect((err as EvaluationError).message).toContain("@tensorflow/tfjs-node-gpu");
		},
	);
	test("cpu and wasm start the named backend; wasm in Node is the single-threaded SIMD build", async () => {
		const tf = await initTfjs("wasm");
		expect(tf.getBackend()).toBe("wasm");
		expect(await describeBackend(tf)).toBe("wasm (SIMD, 1 thread)");
		expect((await initTfjs("cpu")).getBackend()).toBe("cpu");
	});
});
