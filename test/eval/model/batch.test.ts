import { describe, expect, test } from "vitest";
import type { MistralConfig } from "../../../src/eval/mistral-config.js";
import { commonPrefixLength, planBatches } from "../../../src/eval/model/batch.js";
import { chunkMask, createRunState, disposeBatchTensors, MASKED, prepareBatch } from "../../../src/eval/model/run-state.js";
import { initTfjs } from "../../../src/eval/tfjs-backend.js";

const CFG: MistralConfig = {
	hidden: 4,
	intermediate: 4,
	layers: 1,
	heads: 2,
	kvHeads: 1,
	headDim: 4,
	vocab: 10,
	rmsNormEps: 1e-5,
	ropeTheta: 100,
	slidingWindow: 2,
	tieEmbeddings: false,
};

describe("planBatches", () => {
	test("packs sequences row after row, without padding, within the sequence and row limits", () => {
		const reqs = [
			{ tokens: [1, 2, 3], prefixUsed: 0, outputs: [2] },
			{ tokens: [1, 2, 4, 5], prefixUsed: 2, outputs: [2, 3] },
			{ tokens: [6, 7, 8, 9, 1, 2], prefixUsed: 0, outputs: [5] },
		];
		const batches = planBatches(reqs, 2, 5);
		expect(batches.map((b) => b.requests)).toEqual([[0, 1], [2]]);
		const [b0] = batches;
		expect([...b0!.tokens]).toEqual([1, 2, 3, 4, 5]);
		expect([...b0!.positions]).toEqual([0, 1, 2, 2, 3]);
		expect(b0!.segments).toEqual([
			{ start: 0, length: 3, prefixUsed: 0 },
			{ start: 3, length: 2, prefixUsed: 2 },
		]);
		expect(b0!.outputRows).toEqual([2, 3, 4]);
		// a sequence longer than maxRows runs alone
		expect(batches[1]!.tokens.length).toBe(6);
	});

	test("an output inside the cached prefix, or no own rows, is EvaluationError kind Data", () => {
		expect(() => planBatches([{ tokens: [1, 2], prefixUsed: 1, outputs: [0] }], 4, 10)).toThrow(expect.objectContaining({ kind: "Data" }));
		expect(() => planBatches([{ tokens: [1, 2], prefixUsed: 2, outputs: [] }], 4, 10)).toThrow(expect.objectContaining({ kind: "Data" }));
	});

	test("commonPrefixLength", () => {
		expect(commonPrefixLength([1, 2, 3], [1, 2, 4])).toBe(2);
		expect(commonPrefixLength([1, 2], [1, 2, 3])).toBe(2);
		expect(commonPrefixLength([], [1])).toBe(0);
	});
});

describe("prepareBatch", () => {
	test("masks: key j visible to query i iff i − window < j ≤ i, with positions offset by the cached prefix", async () => {
		const tf = await initTfjs("cpu");
		const [batch] = planBatches([{ tokens: [1, 2, 3, 4], prefixUsed: 2, outputs: [3] }], 1, 10);
		const bt = prepareBatch(tf, CFG, createRunState(CFG), batch!);
		try {
			const X = MASKED;
			// queries at positions 2, 3 over keys 0..3 with window 2
			expect(Array.from(chunkMask(tf, CFG, bt, 0, batch!.segments[0]!, 0, 2).dataSync())).toEqual([X, 0, 0, X, X, X, 0, 0]);
			// the block of query row 1 alone (position 3) sees keys 0..3; the one of row 0 (position 2) keys 0..2
			expect(Array.from(chunkMask(tf, CFG, bt, 0, batch!.segments[0]!, 1, 1).dataSync())).toEqual([X, X, 0, 0]);
			expect(Array.from(chunkMask(tf, CFG, bt, 0, batch!.segments[0]!, 0, 1).dataSync())).toEqual([X, 0, 0]);
			// RoPE rows: position 2, dims j and j + 2 share the angle 2·θ^(−2j/4)
			const cos = bt.cos.dataSync();
			expect(cos[0]).toBeCloseTo(Math.cos(2), 6);
			expect(cos[1]).toBeCloseTo(Math.cos(2 / 10), 6);
			expect(cos[2]).toBeCloseTo(Math.cos(2), 6);
			expect(bt.sin.dataSync()[4 + 1]).toBeCloseTo(Math.sin(3 / 10), 6);
		} finally {
			disposeBatchTensors(bt);
		}
	});
});
