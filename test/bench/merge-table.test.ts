import { describe, expect, it } from "vitest";
import { formatMergeTable, type MergeBenchRow } from "../../bench/merge-table.js";

const row = (over: Partial<MergeBenchRow>): MergeBenchRow => ({
	method: "slerp",
	threads: 2,
	wallSeconds: 12.34,
	mergeSeconds: 11,
	cpuSeconds: 19.5,
	elementsPerSecond: 25e6,
	floorSeconds: 10,
	directFloorSeconds: 8,
	directRatio: 1.4,
	withinDirect: false,
	ratio: 1.1,
	ratioRange: [1.05, 1.25],
	pairs: 3,
	ratioTarget: 1.15,
	peakRssBytes: 1.2e9,
	rssSource: "gnu-time",
	withinTarget: true,
	identicalAcrossThreads: true,
	...over,
});

describe("formatMergeTable", () => {
	it("prints one aligned line per row, then the notes", () => {
		const lines = formatMergeTable(
			[
				row({}),
				row({ method: "dare_ties", ratio: 1.5, ratioTarget: 1.3, peakRssBytes: 2e9, withinTarget: false, identicalAcrossThreads: false }),
			],
			{
				floorNote: "cold",
				threads: 2,
			},
		);
		expect(lines[0]!.split(/\s{2,}/)).toEqual([
			"method",
			"thr",
			"pairs",
			"wall s",
			"merge s",
			"cpu s",
			"M el/s",
			"floor s",
			"ratio",
			"range",
			"target",
			"peak RSS",
			"RSS ≤1.5GB",
			"within",
			"direct floor s",
			"direct ratio",
			"within",
			"same bytes 1/N",
		]);
		expect(lines[1]!.trim().split(/\s{2,}/)).toEqual([
			"slerp",
			"2",
			"3",
			"12.3",
			"11.0",
			"19.5",
			"25.0",
			"10.0",
			"1.10",
			"1.05–1.25",
			"≤1.15",
			"1.20 GB",
			"yes",
			"yes",
			"8.0",
			"1.40",
			"no",
			"yes",
		]);
		expect(lines[2]!.trim().split(/\s{2,}/)).toEqual([
			"dare_ties",
			"2",
			"3",
			"12.3",
			"11.0",
			"19.5",
			"25.0",
			"10.0",
			"1.50",
			"1.05–1.25",
			"≤1.30",
			"2.00 GB",
			"no",
			"no",
			"8.0",
			"1.40",
			"no",
			"NO",
		]);
		expect(lines[1]!.length).toBe(lines[0]!.length);
		expect(lines[3]).toContain("cold cache");
		expect(lines[3]).toContain("median");
	});

	it("shows a failed child and its error", () => {
		const lines = formatMergeTable(
			[
				row({
					directFloorSeconds: undefined,
					directRatio: undefined,
					withinDirect: undefined,
					mergeSeconds: NaN,
					cpuSeconds: undefined,
					pairs: 1,
					elementsPerSecond: NaN,
					ratio: NaN,
					peakRssBytes: undefined,
					withinTarget: false,
					identicalAcrossThreads: undefined,
					error: "exit 1: error: boom",
				}),
			],
			{
				floorNote: "warm",
				threads: 2,
			},
		);
		expect(lines[1]!.trim().split(/\s{2,}/)).toEqual([
			"slerp",
			"2",
			"1",
			"12.3",
			"failed",
			"n/a",
			"-",
			"10.0",
			"-",
			"-",
			"≤1.15",
			"n/a",
			"n/a",
			"no",
			"n/a",
			"-",
			"n/a",
			"n/a",
		]);
		expect(lines.at(-1)).toBe("slerp (--threads 2) failed: exit 1: error: boom");
	});
});
