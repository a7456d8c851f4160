import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import type { BackendLoader, ForwardBackend } from "../../src/eval/backends/types.js";
import { loadEvalModel } from "../../src/eval/eval-model.js";
import { evaluate, evaluateIter } from "../../src/eval/evaluate.js";
import { BIOMISTRAL_HEADER } from "../../src/eval/prompt.js";
import { loadTokenizer } from "../../src/eval/tokenizer.js";
import type { EvalEvent, EvalReport } from "../../src/eval/types.js";
import { writeTinyMistral } from "../../src/fixtures/tiny-model.js";
import { VERSION } from "../../src/version.js";
import { writeMistralTokenizer } from "../fixtures/eval/mistral-tokenizer.js";
import { useTempDir } from "../helpers/fs.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SAMPLE = join(ROOT, "examples", "data", "medqa-sample.jsonl");
const SAMPLE_TRAIN = join(ROOT, "examples", "data", "medqa-sample-train.jsonl");
const SAMPLE_GOLDS = ["A", "C", "B", "D", "B", "C", "A", "B"];
const VOCAB = 32000;

/** Calls a fake model received, for assertions. */
interface Calls {
	prompts: number[][];
	sharedPrefix: number[] | undefined;
	contexts: number[][];
	continuations: number[][];
	disposed: boolean;
}

/**
 * A fake backend whose next-token scores are fixed: `boosts` maps token ids to logits, every other id has 0.
 * A request with one position at its end is a biomistral prompt; one with later tokens is a harness
 * continuation, whose log-likelihood is −0.5 when it holds " A" (token ▁A = 330), else −2.
 */
function fakeLoader(byDir: Record<string, Record<number, number>>, calls: Record<string, Calls>): BackendLoader {
	return async (dir) => {
		const boosts = byDir[dir] ?? {};
		const c: Calls = { prompts: [], sharedPrefix: undefined, contexts: [], continuations: [], disposed: false };
		calls[dir] = c;
		const backend: ForwardBackend = {
			info: { backend: "tfjs", device: "cpu", detail: "fake", quant: "float32", weights: dir, weightBytes: 0 },
			vocabSize: VOCAB,
			maxTokens: 4096,
			async logprobs(reqs, opts) {
				c.sharedPrefix = opts.sharedPrefix !== undefined ? [...opts.sharedPrefix] : undefined;
				reqs.forEach((r, i) => {
					const first = r.positions[0] ?? 0;
					const continuation = r.tokens.slice(first + 1);
					if (continuation.length === 0) {
						c.prompts.push([...r.tokens]);
						const logits = new Float32Array(VOCAB);
						for (const [id, v] of Object.entries(boosts)) logits[Number(id)] = v;
						opts.onResult(i, [logits]);
					} else {
						c.contexts.push(r.tokens.slice(0, first + 1));
						c.continuations.push(continuation);
						const rows = continuation.map(() => new Float32Array(VOCAB));
						rows[0]![continuation[0]!] = continuation.includes(330) ? -0.5 : -2;
						opts.onResult(i, rows);
					}
				});
			},
			async dispose() {
				c.disposed = true;
			},
		};
		return backend;
	};
}

const tmp = useTempDir("lm-merge-evaluate-");
let m1: string;
let m2: string;
beforeAll(async () => {
	m1 = join(tmp(), "model-one");
	m2 = join(tmp(), "model-two");
	await writeMistralTokenizer(m1);
	await writeMistralTokenizer(m2);
});

/** Logits 5 on `A` (28741) and 4 on `▁B` (365): top-1 is "A" for every prompt. */
const FAVOUR_A = { 28741: 5, 365: 4 };
const Z = Math.exp(5) + Math.exp(4) + (VOCAB - 2);

describe("evaluate() with a fake model (biomistral mode)", () => {
	let report: EvalReport;
	const events: EvalEvent[] = [];
	const calls: Record<string, Calls> = {};

	beforeAll(async () => {
		report = await evaluate({
			models: [m1],
			data: SAMPLE,
			shotsFrom: SAMPLE_TRAIN,
			loadModel: fakeLoader({ [m1]: FAVOUR_A }, calls),
			onProgress: (ev) => events.push(ev),
		});
	});

	test("top-level, task and item keys are the spec's", () => {
		for (const key of ["mode", "shots", "seeds", "models", "ensemble", "letter_token_ids", "tasks", "items"])
			expect(report).toHaveProperty(key);
		expect(report.mode).toBe("biomistral");
		expect(report.shots).toBe(3);
		expect(report.seeds).toEqual([0, 1, 2]);
		expect(report.models).toEqual([m1]);
		expect(report.ensemble).toBe(false);
		expect(report.bos).toBe(true);
		expect(report.letter_token_ids.A).toEqual([68, 330, 28741]);
		const task = report.tasks.medqa;
		for (const key of ["n", "acc", "acc_letters", "non_letter_top1", "ece"]) expect(task).toHaveProperty(key);
		expect(Object.keys(task?.acc ?? {}).sort()).toEqual(["mean", "per_seed", "std"]);
		// No prompt texts or ids in the report (a paper-scale report would be ~380 MB): --save-prompts has them.
		expect(Object.keys(report.items[0] ?? {}).sort()).toEqual(
			["task", "id", "seed", "gold", "shot_ids", "tokens", "letter_probs", "top1_id", "top1_text", "correct", "correct_letters"].sort(),
		);
	});

	test("the report says what ran: version, backend, device, quant, data hashes, timings, model names", async () => {
		expect(report.version).toBe(VERSION);
		expect(report.partial).toBe(false);
		expect(report.progress).toEqual({ scored: 24, total: 24, skipped: 0 });
		expect([report.backend, report.device, report.quant]).toEqual(["tfjs", "cpu", "float32"]);
		expect(report.model_names).toEqual(["model-one"]);
		const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
		expect(report.data_files).toEqual([
			{ path: SAMPLE, sha256: sha(SAMPLE), bytes: statSync(SAMPLE).size },
			{ path: SAMPLE_TRAIN, sha256: sha(SAMPLE_TRAIN), bytes: statSync(SAMPLE_TRAIN).size },
		]);
		expect(report.runs[0]).toMatchObject({ model: m1, name: "model-one", backend: "tfjs", detail: "fake" });
		expect(report.runs[0]?.timings.prompts).toBe(24);
		expect(report.runs[0]?.timings.tokens).toBe(report.items.reduce((a, i) => a + i.tokens, 0));
		expect(report.timings.seconds).toBeGreaterThan(0);
		expect(report.items[0]?.tokens).toBe((calls[m1] as Calls).prompts[0]?.length);
	});

	test("hand-computed accuracy, letter probabilities and ECE", () => {
		const task = report.tasks.medqa;
		expect(task?.n).toBe(8);
		expect(task?.shot_source).toBe("template");
		// top-1 is "A" everywhere; two of the eight golds are A
		expect(task?.acc).toEqual({ mean: 25, std: 0, per_seed: [25, 25, 25] });
		expect(task?.acc_letters.per_seed).toEqual([25, 25, 25]);
		expect(task?.non_letter_top1).toBe(0);
		const pA = Math.exp(5) / Z;
		expect(report.items[0]?.letter_probs.A).toBeCloseTo(pA, 9);
		expect(report.items[0]?.letter_probs.B).toBeCloseTo(Math.exp(4) / Z, 9);
		expect(report.items[0]?.letter_probs.C).toBeCloseTo(1 / Z, 9);
		// one bin (0, 0.2]: |pA - 0.25| · 8/8, at full precision (the JSON used to round to 4 decimals)
		const pAItem = report.items[0]?.letter_probs.A ?? 0;
		expect(task?.ece).toBeCloseTo(100 * Math.abs(pAItem - 0.25), 10);
		expect(task?.ece_per_seed[0]).toBeCloseTo(100 * Math.abs(pA - 0.25), 10);
		expect(report.items.map((i) => i.gold).slice(0, 8)).toEqual(SAMPLE_GOLDS);
		expect(report.items[0]).toMatchObject({ top1_id: 28741, top1_text: "A", correct: true });
		expect(report.items[1]).toMatchObject({ correct: false, correct_letters: false });
	});

	test("prompts: BOS + shared header prefix, ending in `(`; shots from the train file, deterministic per seed", async () => {
		const c = calls[m1] as Calls;
		const tok = await loadTokenizer(m1);
		expect(c.sharedPrefix).toEqual(tok.encode(BIOMISTRAL_HEADER));
		expect(c.prompts).toHaveLength(24);
		for (const p of c.prompts) {
			expect(p[0]).toBe(1);
			expect(p.at(-1)).toBe(28732);
		}
		const item = report.items[0];
		expect(item?.shot_ids).toHaveLength(3);
		const savePrompts = join(tmp(), "prompts.jsonl");
		const again = await evaluate({
			models: [m1],
			data: SAMPLE,
			shotsFrom: SAMPLE_TRAIN,
			savePrompts,
			loadModel: fakeLoader({ [m1]: FAVOUR_A }, {}),
		});
		const saved = readFileSync(savePrompts, "utf8")
			.trimEnd()
			.split("\n")
			.map((l) => JSON.parse(l));
		expect(saved).toHaveLength(24);
		expect(saved[0]).toMatchObject({ index: 0, task: "medqa", id: item?.id, seed: 0, shot_ids: item?.shot_ids, tokens: item?.tokens });
		expect(saved[0].prompt.startsWith(BIOMISTRAL_HEADER)).toBe(true);
		expect(saved[0].prompt.endsWith("**Answer:**(")).toBe(true);
		expect(saved[0].prompt_ids).toEqual(tok.encode(saved[0].prompt));
		expect(saved.map((p: { prompt_ids: number[] }) => p.prompt_ids)).toEqual(c.prompts);
		expect(again.items.map((i) => i.shot_ids)).toEqual(report.items.map((i) => i.shot_ids));
		const seed0 = report.items.filter((i) => i.seed === 0).map((i) => i.shot_ids.join());
		const seed1 = report.items.filter((i) => i.seed === 1).map((i) => i.shot_ids.join());
		expect(seed0).not.toEqual(seed1);
		expect(c.disposed).toBe(true);
	});

	test("progress events: start, model, then item counts rising to the total", () => {
		expect(events[0]).toEqual({ event: "start", total: 24, tasks: ["medqa"], models: [m1], resumed: 0 });
		expect(events[1]).toEqual({ event: "model", index: 0, path: m1, name: "model-one", backend: "fake" });
		const done = events.filter((e) => e.event === "item").map((e) => (e.event === "item" ? e.done : 0));
		expect(done.length).toBeGreaterThan(1);
		expect(done.at(-1)).toBe(24);
		expect([...done].sort((a, b) => a - b)).toEqual(done);
		// tokens run and still to run, for tokens/s and the ETA
		const items = events.filter((e) => e.event === "item");
		const total = report.items.reduce((a, i) => a + i.tokens, 0);
		expect(items.at(-1)).toMatchObject({ tokens: total, tokensLeft: 0 });
		expect(items[0]).toMatchObject({ tokens: report.items[0]?.tokens, tokensLeft: total - (report.items[0]?.tokens ?? 0) });
	});
});

describe("evaluate() options", () => {
	test("shots from the same file: never the query, with a warning; limit and seeds", async () => {
		const report = await evaluate({ models: [m1], data: SAMPLE, seeds: [4, 7], limit: 3, loadModel: fakeLoader({ [m1]: FAVOUR_A }, {}) });
		expect(report.seeds).toEqual([4, 7]);
		expect(report.tasks.medqa?.n).toBe(3);
		expect(report.items).toHaveLength(6);
		for (const it of report.items) expect(it.shot_ids).not.toContain(it.id);
		expect(report.warnings.some((w) => w.includes("drawn from"))).toBe(true);
	});

	test("ensemble: summed letter probabilities, members reported, arg-max letter", async () => {
		const calls: Record<string, Calls> = {};
		// model one: A (5) > ▁B (4); model two: ▁C (6) > A (5): sums favour C for every item
		const report = await evaluate({
			models: [m1, m2],
			ensemble: true,
			data: SAMPLE,
			shots: 0,
			seeds: 1,
			loadModel: fakeLoader({ [m1]: FAVOUR_A, [m2]: { 334: 6, 28741: 5 } }, calls),
		});
		expect(report.ensemble).toBe(true);
		expect(report.members?.map((m) => m.tasks.medqa?.acc.mean)).toEqual([25, 25]);
		expect(report.tasks.medqa?.acc.mean).toBe(25); // C is gold twice
		const z2 = Math.exp(6) + Math.exp(5) + (VOCAB - 2);
		expect(report.items[0]?.letter_probs.C).toBeCloseTo(1 / Z + Math.exp(6) / z2, 9);
		expect(report.items[0]?.top1_text).toBe("A"); // from the first model
		expect(calls[m1]?.disposed && calls[m2]?.disposed).toBe(true);
	});

	test("harness mode: zero-shot, one seed, no BOS, continuation ' A' scored after the context", async () => {
		const calls: Record<string, Calls> = {};
		const report = await evaluate({ models: [m1], data: SAMPLE, mode: "harness", loadModel: fakeLoader({}, calls) });
		expect(report.shots).toBe(0);
		expect(report.seeds).toEqual([0]);
		expect(report.bos).toBe(false);
		expect(report.tasks.medqa?.acc.mean).toBe(25);
		expect(report.tasks.medqa?.acc_norm?.mean).toBe(25);
		const c = calls[m1] as Calls;
		expect(c.contexts).toHaveLength(32);
		expect(c.contexts[0]?.[0]).not.toBe(1);
		expect(c.continuations.slice(0, 4)).toEqual([[330], [365], [334], [384]]);
		const tok = await loadTokenizer(m1);
		expect(tok.decode(c.contexts[0] ?? []).startsWith("Question: A 24-year-old woman")).toBe(true);
		expect(tok.decode(c.contexts[0] ?? []).endsWith("\nD. Red blood cell transfusion\nAnswer:")).toBe(true);
		expect(report.items[0]?.letter_probs.A).toBeCloseTo(Math.exp(-0.5), 12);
	});

	test("configuration errors are kind Config", async () => {
		const loadModel = fakeLoader({}, {});
		await expect(evaluate({ models: [m1, m2], data: SAMPLE, loadModel })).rejects.toMatchObject({ kind: "Config" });
		await expect(evaluate({ models: [m1], data: SAMPLE, ensemble: true, loadModel })).rejects.toMatchObject({ kind: "Config" });
		await expect(evaluate({ models: [m1], data: SAMPLE, seeds: [1, 1], loadModel })).rejects.toMatchObject({ kind: "Config" });
		await expect(evaluate({ models: [m1], data: SAMPLE, shots: -1, loadModel })).rejects.toMatchObject({ kind: "Config" });
		await expect(evaluate({ models: [m1], data: SAMPLE, tasks: ["nope"], loadModel })).rejects.toMatchObject({ kind: "Config" });
	});

	test("evaluateIter returns the report after its events", async () => {
		const it = evaluateIter({ models: [m1], data: SAMPLE, shots: 0, seeds: 1, loadModel: fakeLoader({ [m1]: FAVOUR_A }, {}) });
		let step = await it.next();
		const kinds: string[] = [];
		while (step.done !== true) {
			kinds.push(step.value.event);
			step = await it.next();
		}
		expect(kinds[0]).toBe("start");
		expect(step.value.tasks.medqa?.n).toBe(8);
	});
});

describe("end to end with a real tiny checkpoint", () => {
	test("scores agree with the model's own logits", async () => {
		const dir = join(tmp(), "tiny");
		await writeTinyMistral(dir, { seed: 3, vocab: 96, tokenizer: true, dtype: "F32" });
		const data = join(ROOT, "test", "fixtures", "eval", "medqa.jsonl");
		const savePrompts = join(tmp(), "tiny-prompts.jsonl");
		const report = await evaluate({ models: [dir], data, shots: 1, seeds: 2, tfjsDevice: "cpu", streaming: false, savePrompts });
		const saved = readFileSync(savePrompts, "utf8")
			.trimEnd()
			.split("\n")
			.map((l) => JSON.parse(l) as { prompt_ids: number[] });
		const task = report.tasks.medqa;
		expect(task?.n).toBe(3);
		expect(report.items).toHaveLength(6);
		expect(report.letter_token_ids.A).toHaveLength(2); // the tiny tokenizer has "A" and "▁A"
		const model = await loadEvalModel(dir, { device: "cpu", streaming: false });
		try {
			const item = report.items[1];
			const [logits] = await model.lastLogits([saved[1]?.prompt_ids ?? []]);
			let top = 0;
			for (let i = 1; i < (logits?.length ?? 0); i++) if ((logits?.[i] ?? 0) > (logits?.[top] ?? 0)) top = i;
			expect(item?.top1_id).toBe(top);
			for (const p of Object.values(item?.letter_probs ?? {})) {
				expect(p).toBeGreaterThanOrEqual(0);
				expect(p).toBeLessThanOrEqual(1);
			}
		} finally {
			await model.dispose();
		}
		expect(Number.isFinite(task?.ece)).toBe(true);
	}, 60_000);
});
