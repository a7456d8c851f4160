import { describe, expect, it } from "vitest";
import { runKernelBench } from "../../bench/kernel-bench.js";

describe("runKernelBench with worker threads", () => {
	it("fills both rate columns for every slerp row and a dash for DELLA's missing streamed form", async () => {
		const lines: string[] = [];
		const results = await runKernelBench({ elements: 4096, repeats: 1, threads: 2, only: ["slerp", "della"], log: (l) => lines.push(l) });
		const slerp = results.filter((r) => r.method === "slerp");
		expect(slerp.map((r) => r.mode)).toEqual(["copy", "in place", "streamed"]);
		for (const r of slerp) {
			expect(r.threads).toBe(2);
			expect(r.elementsPerSecond).toBeGreaterThan(0);
			expect(r.elementsPerSecondN).toBeGreaterThan(0);
			expect(r.vsMergekit?.ratio).toBeCloseTo(r.elementsPerSecondN! / 200e6, 9);
		}
		const streamedDella = results.filter((r) => r.method === "della" && r.mode === "streamed");
		expect(streamedDella).toHaveLength(2);
		for (const r of streamedDella)
			expect([r.elementsPerSecond, r.elementsPerSecondN, r.vsMergekit]).toEqual([undefined, undefined, undefined]);
		expect(lines).toHaveLength(2 + results.length);
	});

	it("skips the workers at 1 thread and judges the 1-thread rate", async () => {
		const results = await runKernelBench({ elements: 2048, repeats: 1, threads: 1, only: ["slerp"], log: () => {} });
		for (const r of results) {
			expect(r.elementsPerSecondN).toBeUndefined();
			expect(r.vsMergekit?.ratio).toBeCloseTo(r.elementsPerSecond! / 200e6, 9);
		}
	});
});
