import { describe, expect, it } from "vitest";
import { formatKernelRow, formatRate, formatVersus, type KernelResult, kernelHeader, versusMergekit } from "../../bench/kernel-bench.js";
import { aggregateRate } from "../../bench/kernel-threads.js";

const row = (over: Partial<KernelResult> = {}): KernelResult => ({
	method: "ties",
	mode: "streamed",
	models: 2,
	inputs: 3,
	elementsPerSecond: 40e6,
	elementsPerSecondWall: 38e6,
	threads: 2,
	elementsPerSecondN: 77e6,
	...over,
});

describe("formatRate", () => {
	it.each([
		[123.456e6, "123.5 M/s"],
		[0, "0.0 M/s"],
		[undefined, "-"],
		[Infinity, "-"],
	])("%s → %s", (rate, text) => {
		expect(formatRate(rate)).toBe(text);
	});
});

describe("versusMergekit", () => {
	it("compares with mergekit's upper figure and its target factor", () => {
		expect(versusMergekit(440e6, "slerp")).toEqual({ reference: 200e6, ratio: 2.2, targetFactor: 2, met: true });
		expect(versusMergekit(55e6, "ties")).toEqual({ reference: 11e6, ratio: 5, targetFactor: 10, met: false });
		expect(versusMergekit(110e6, "dare")?.met).toBe(true);
	});

	it("has nothing to say without a figure or a rate", () => {
		expect(versusMergekit(1e6, undefined)).toBeUndefined();
		expect(versusMergekit(1e6, "karcher")).toBeUndefined();
		expect(versusMergekit(undefined, "slerp")).toBeUndefined();
	});

	it("formats the ratio and the verdict", () => {
		expect(formatVersus(versusMergekit(440e6, "slerp"))).toBe("×2.2 of 200 M/s, target ×2: met");
		expect(formatVersus(versusMergekit(55e6, "ties"))).toBe("×5.0 of 11 M/s, target ×10: not met");
		expect(formatVersus(undefined)).toBe("");
	});
});

describe("table rows", () => {
	it("aligns the three rate columns under the header", () => {
		const header = kernelHeader(2);
		const line = formatKernelRow({ ...row(), vsMergekit: versusMergekit(77e6, "ties")! });
		expect(header).toContain("2 thr wall");
		expect(header).toContain("vs mergekit (2 threads)");
		expect(line).toMatch(/^ties +2 streamed +40\.0 M\/s +38\.0 M\/s +77\.0 M\/s {2}×7\.0 of 11 M\/s, target ×10: not met$/);
		for (const col of ["1 thr cpu", "1 thr wall", "2 thr wall"]) {
			const end = header.indexOf(col) + col.length;
			expect(line.slice(end - 3, end)).toBe("M/s");
		}
	});

	it("prints dashes for a mode the case lacks and no verdict", () => {
		const line = formatKernelRow(
			row({ method: "della", elementsPerSecond: undefined, elementsPerSecondWall: undefined, elementsPerSecondN: undefined }),
		);
		expect(line).toMatch(/^della +2 streamed +- +- +-$/);
	});

	it("names the 1-thread fallback when no workers run", () => {
		expect(kernelHeader(1)).toContain("vs mergekit (1 thread cpu)");
	});
});

describe("aggregateRate", () => {
	it("counts N × elements over the slowest worker, best repeat", () => {
		// Repeat 0: slowest 0.5 s → 2 × 100 / 0.5 = 400; repeat 1: slowest 0.4 s → 500.
		expect(
			aggregateRate(100, [
				[0.25, 0.5],
				[0.4, 0.3],
			]),
		).toBe(500);
		expect(aggregateRate(10, [[0.1, 0.1, 0.2, 0.1]])).toBeCloseTo(200, 9);
	});

	it("is one worker's rate for one worker, and 0 with no repeats", () => {
		expect(aggregateRate(1000, [[2], [4]])).toBe(500);
		expect(aggregateRate(1000, [])).toBe(0);
	});
});
