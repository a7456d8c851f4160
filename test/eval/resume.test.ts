import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import type { BackendLoader, ForwardBackend } from "../../src/eval/backends/types.js";
import { evaluate } from "../../src/eval/evaluate.js";
import type { EvalReport } from "../../src/eval/types.js";
import { writeTinyMistral } from "../../src/fixtures/tiny-model.js";
import { writeMistralTokenizer } from "../fixtures/eval/mistral-tokenizer.js";
import { useTempDir } from "../helpers/fs.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SAMPLE = join(ROOT, "examples", "data", "medqa-sample.jsonl");
const SAMPLE_TRAIN = join(ROOT, "examples", "data", "medqa-sample-train.jsonl");
const VOCAB = 32000;

/**
 * A fake backend whose logits depend on the prompt (so every item has its own letter probabilities) and
 * which, like the real ones, yields to the event loop between requests and stops once aborted.
 */
function slowFake(scoredTokens: number[][]): BackendLoader {
	return async (dir) => {
		const backend: ForwardBackend = {
			info: { backend: "tfjs", device: "cpu", detail: "fake", quant: "float32", weights: dir, weightBytes: 0 },
			vocabSize: VOCAB,
			maxTokens: 4096,
			async logprobs(reqs, opts) {
				for (const [i, r] of reqs.entries()) {
					await new Promise((resolve) => setImmediate(resolve));
					if (opts.signal?.aborted === true) return;
					scoredTokens.push([...r.tokens]);
					const row = new Float32Array(VOCAB);
					const h = r.tokens.reduce((a, t, k) => (a * 31 + t * (k + 1)) % 1009, 7);
					for (const [k, id] of [28741, 330, 365, 334, 384].entries()) row[id] = ((h * (k + 3)) % 17) / 4;
					opts.onResult(i, [row]);
				}
			},
			async dispose() {},
		};
		return backend;
	};
}

/** A report without the figures that legitimately differ between two runs (wall-clock times, rates). */
function stable(r: EvalReport): unknown {
	return JSON.parse(JSON.stringify(r, (k, v) => (k === "timings" ? undefined : v)));
}

const tmp = useTempDir("lm-merge-resume-");
let model: string;
beforeAll(async () => {
	model = join(tmp(), "model");
	await writeMistralTokenizer(model);
});

describe("an interrupted eval resumes to the same report", () => {
	const base = () => ({ models: [model], data: SAMPLE, shotsFrom: SAMPLE_TRAIN, seeds: 3 });

	test("abort after 7 prompts → partial report; --resume scores only the rest; final report equals an uninterrupted run", async () => {
		const whole = await evaluate({ ...base(), loadModel: slowFake([]) });
		expect(whole.partial).toBe(false);

		const checkpoint = join(tmp(), "run.checkpoint.jsonl");
		const controller = new AbortController();
		const firstCalls: number[][] = [];
		const partial = await evaluate({
			...base(),
			checkpoint,
			signal: controller.signal,
			loadModel: slowFake(firstCalls),
			onProgress: (e) => {
				if (e.event === "item" && e.done === 7) controller.abort();
			},
		});
		expect(partial.partial).toBe(true);
		expect(partial.progress).toEqual({ scored: 7, total: 24, skipped: 0 });
		expect(partial.items).toHaveLength(7);
		expect(partial.items).toEqual(whole.items.slice(0, 7));
		expect(partial.tasks.medqa?.acc.per_seed).toHaveLength(3);
		// one header line + one line per scored prompt, written as each completed
		expect(readFileSync(checkpoint, "utf8").trimEnd().split("\n")).toHaveLength(8);

		const secondCalls: number[][] = [];
		const resumed = await evaluate({ ...base(), checkpoint, resume: true, loadModel: slowFake(secondCalls) });
		expect(secondCalls).toHaveLength(24 - 7);
		expect(resumed.partial).toBe(false);
		expect(stable(resumed)).toEqual(stable(whole));
	});

	test("a checkpoint is never silently overwritten, nor resumed with other settings", async () => {
		const checkpoint = join(tmp(), "guard.checkpoint.jsonl");
		const controller = new AbortController();
		await evaluate({
			...base(),
			checkpoint,
			signal: controller.signal,
			loadModel: slowFake([]),
			onProgress: (e) => e.event === "item" && controller.abort(),
		});
		await expect(evaluate({ ...base(), checkpoint, loadModel: slowFake([]) })).rejects.toMatchObject({ kind: "Config" });
		await expect(evaluate({ ...base(), seeds: 2, checkpoint, resume: true, loadModel: slowFake([]) })).rejects.toMatchObject({
			kind: "Mismatch",
			message: expect.stringContaining("seeds"),
		});
	});

	test("a line torn by kill -9 mid-write is dropped and its prompt scored again", async () => {
		const whole = await evaluate({ ...base(), loadModel: slowFake([]) });
		const checkpoint = join(tmp(), "torn.checkpoint.jsonl");
		const controller = new AbortController();
		await evaluate({
			...base(),
			checkpoint,
			signal: controller.signal,
			loadModel: slowFake([]),
			onProgress: (e) => e.event === "item" && e.done === 5 && controller.abort(),
		});
		appendFileSync(checkpoint, '{"model":0,"index":5,"task":"medqa","letter_pr');
		const calls: number[][] = [];
		const resumed = await evaluate({ ...base(), checkpoint, resume: true, loadModel: slowFake(calls) });
		expect(calls).toHaveLength(24 - 5);
		expect(stable(resumed)).toEqual(stable(whole));
		expect(existsSync(checkpoint)).toBe(true);
	});
});

describe("with the real tfjs forward pass", () => {
	test("an interrupted then resumed run gives bit-identical letter probabilities", async () => {
		const dir = join(tmp(), "tiny");
		await writeTinyMistral(dir, { seed: 5, vocab: 96, hidden: 32, layers: 2, dtype: "F32" });
		const data = join(ROOT, "test", "fixtures", "eval", "medqa.jsonl");
		const opts = { models: [dir], data, shots: 1, seeds: 2, tfjsDevice: "cpu" as const, batch: 1 };
		const whole = await evaluate(opts);
		const checkpoint = join(tmp(), "tiny.checkpoint.jsonl");
		const controller = new AbortController();
		const partial = await evaluate({
			...opts,
			checkpoint,
			signal: controller.signal,
			onProgress: (e) => e.event === "item" && e.done === 2 && controller.abort(),
		});
		expect(partial.partial).toBe(true);
		expect(partial.progress.scored).toBeLessThan(6);
		const resumed = await evaluate({ ...opts, checkpoint, resume: true });
		expect(stable(resumed)).toEqual(stable(whole));
	}, 60_000);
});
