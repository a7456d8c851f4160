import { join } from "node:path";
import { expect, test } from "vitest";
import { loadEvalModel } from "../../src/eval/eval-model.js";
import { forward } from "../../src/eval/forward.js";
import { toMistralConfig } from "../../src/eval/mistral-config.js";
import { createRunState } from "../../src/eval/model/run-state.js";
import { initTfjs } from "../../src/eval/tfjs-backend.js";
import { disposeMistralWeights, loadMistralWeights } from "../../src/eval/weights.js";
import { openModel } from "../../src/model/model-dir.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";
import { expectClose } from "./memory-source.js";

const tmp = useTempDir("lm-merge-long-prompt-");

/**
 * Issue 12 item 15: attention used to hold every kv head's full [g·T, T] scores (and a [T, T] mask) at once,
 * so a 7.5k-token prompt took 2.96 GB. Scores now exist one block of query rows and one kv head at a time.
 */
test("a 4096-token prompt: peak tensor memory stays linear in its length; the block size does not change the logits", async () => {
	const dir = join(tmp(), "tiny");
	await writeTinyMistral(dir, {
		layers: 2,
		hidden: 32,
		intermediate: 64,
		heads: 4,
		kvHeads: 2,
		vocab: 64,
		dtype: "F32",
		tokenizer: false,
		initStd: 0.3,
		seed: 9,
	});
	const T = 4096;
	const prompt = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % 64);
	const tf = await initTfjs("wasm");
	const model = await loadEvalModel(dir, { device: "wasm", streaming: false });
	let logits: Float32Array[] = [];
	try {
		const info = await tf.profile(async () => {
			logits = await model.lastLogits([prompt]);
		});
		// Measured: 1366 MB with the whole square at once (scores of both kv heads, mask, softmax copies), 114 MB in blocks.
		console.log(`4096-token prompt: peak tensor memory ${(info.peakBytes / 2 ** 20).toFixed(1)} MB`);
		expect(info.peakBytes).toBeLessThan(160 * 2 ** 20);
	} finally {
		await model.dispose();
	}
	// Blocks of another size (700 rows, not a divisor of 4096) give the same last-position logits. (Blocks against
	// the float64 reference: forward.test.ts; the reference itself is too slow at this length.)
	const src = await openModel(dir);
	try {
		const cfg = toMistralConfig(src.config!, dir);
		const w = await loadMistralWeights(tf, src, cfg);
		try {
			const other = forward(tf, cfg, w, prompt, createRunState(cfg, 700)).subarray((T - 1) * cfg.vocab);
			expect(logits[0]!.every(Number.isFinite)).toBe(true);
			expectClose("last position, blocks of 700", logits[0]!, other, 1e-5);
		} finally {
			disposeMistralWeights(w);
		}
	} finally {
		await src.close();
	}
}, 120_000);
