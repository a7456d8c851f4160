/** The merge benchmark's result rows and their text table. */
import { PEAK_RSS_TARGET_BYTES } from "./merge-recipes.js";

/** One child merge, with the I/O floor measured next to it. */
export interface MergeBenchRow {
	method: string;
	threads: number;
	/** Spawn to exit of the child (node start, tsx transpile, plan, merge). */
	wallSeconds: number;
	/** The merge itself as the CLI reports it (runMerge: read, kernels, write, fsync, rename). */
	mergeSeconds: number;
	/** Output elements per merge second: end-to-end throughput of the executor at this thread count. */
	elementsPerSecond: number;
	/** User + system CPU seconds of the child, all threads (GNU time). */
	cpuSeconds: number | undefined;
	/** Read the inputs + write and fsync the output's byte count through the page cache, just before the merge. */
	floorSeconds: number;
	/** The same with O_DIRECT reads and writes; undefined where the file system refuses O_DIRECT. */
	directFloorSeconds: number | undefined;
	/** mergeSeconds / floorSeconds: the median over the floor + merge pairs. */
	ratio: number;
	/** mergeSeconds / directFloorSeconds, the median over the pairs (a stricter yardstick than the target's floor). */
	directRatio: number | undefined;
	/** The lowest and highest ratio of the pairs. */
	ratioRange: [number, number];
	/** Floor + merge pairs measured. */
	pairs: number;
	ratioTarget: number;
	peakRssBytes: number | undefined;
	rssSource: string;
	/** Ratio and peak RSS both within their targets. */
	withinTarget: boolean;
	/** The direct ratio within the ratio target too. */
	withinDirect: boolean | undefined;
	/** Output sha256 equal for --threads 1 and N; undefined when not compared. */
	identicalAcrossThreads?: boolean | undefined;
	/** The child's error line when it failed. */
	error?: string;
}

const GB = 1e9;

/** Fixed-width table lines: one per row, then the notes. */
export function formatMergeTable(rows: readonly MergeBenchRow[], info: { floorNote: "cold" | "warm"; threads: number }): string[] {
	const head = [
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
	];
	const cells = rows.map((r) => [
		r.method,
		String(r.threads),
		String(r.pairs),
		r.wallSeconds.toFixed(1),
		Number.isFinite(r.mergeSeconds) ? r.mergeSeconds.toFixed(1) : "failed",
		r.cpuSeconds !== undefined ? r.cpuSeconds.toFixed(1) : "n/a",
		Number.isFinite(r.elementsPerSecond) ? (r.elementsPerSecond / 1e6).toFixed(1) : "-",
		r.floorSeconds.toFixed(1),
		Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : "-",
		r.pairs > 1 ? `${r.ratioRange[0].toFixed(2)}–${r.ratioRange[1].toFixed(2)}` : "-",
		`≤${r.ratioTarget.toFixed(2)}`,
		r.peakRssBytes !== undefined ? `${(r.peakRssBytes / GB).toFixed(2)} GB` : "n/a",
		r.peakRssBytes !== undefined ? (r.peakRssBytes <= PEAK_RSS_TARGET_BYTES ? "yes" : "no") : "n/a",
		r.withinTarget ? "yes" : "no",
		r.directFloorSeconds !== undefined ? r.directFloorSeconds.toFixed(1) : "n/a",
		r.directRatio !== undefined && Number.isFinite(r.directRatio) ? r.directRatio.toFixed(2) : "-",
		r.withinDirect === undefined ? "n/a" : r.withinDirect ? "yes" : "no",
		r.identicalAcrossThreads === undefined ? "n/a" : r.identicalAcrossThreads ? "yes" : "NO",
	]);
	const widths = head.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
	const line = (row: string[]) => row.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join("  ");
	const out = [line(head), ...cells.map(line)];
	out.push(
		`ratio = merge s / floor s, median of the pairs (each floor measured just before its merge); ` +
			`floor = read both inputs, then write + fsync the output size through the page cache (${info.floorNote} cache)`,
	);
	out.push(
		"direct floor = the same bytes with O_DIRECT reads and writes, as the merge's streamed jobs do them; " +
			"direct ratio = merge s / direct floor s (median), held to the same target",
	);
	out.push("cpu s = user + system seconds of the merge child, all threads");
	out.push(`peak RSS from ${rows[0]?.rssSource ?? "n/a"}; wall s includes node + tsx start-up; timed runs use --threads ${info.threads}`);
	for (const r of rows) if (r.error !== undefined) out.push(`${r.method} (--threads ${r.threads}) failed: ${r.error}`);
	return out;
}
