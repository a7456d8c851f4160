/**
 * Header-parse benchmark (issue 12, item 17): how long `parseHeader` takes on the two big-header shapes of
 * bench/header-shapes.ts, next to Node's own `JSON.parse` of the same bytes, and how much memory it needs.
 *
 *   npx tsx bench/header-bench.ts [--repeat 3]
 *
 * Time: in this process, JSON.parse of the decoded header and parseHeader of the bytes, alternately, `repeat`
 * times; the ratio of each pair is printed (target ≤ 3). Memory: each parse once more in a fresh child process,
 * peak resident memory minus resident memory before it (the header bytes already loaded), divided by the header
 * size (target ≤ 4). JSON.parse's figures are shown as a reference; its result is not a checked header.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseHeader } from "../src/io/header.js";
import { HEADER_SHAPES, type HeaderShape } from "./header-shapes.js";
import { runMeasured } from "./rss.js";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "header-child.ts");

/** The targets of issue 12: time ≤ 3 × JSON.parse, extra memory ≤ 4 × the header size. */
export const HEADER_TIME_TARGET = 3;
export const HEADER_MEMORY_TARGET = 4;

/** Options of runHeaderBench. */
export interface HeaderBenchOptions {
	/** Timed pairs per shape (default 3). */
	repeat?: number;
	/** Shapes to run (default both). */
	shapes?: HeaderShape[];
	log?: (line: string) => void;
}

/** One shape's figures. */
export interface HeaderBenchResult {
	shape: HeaderShape;
	headerBytes: number;
	tensors: number;
	/** parseHeader time ÷ JSON.parse time, one per pair. */
	timeRatios: number[];
	parseMs: number[];
	jsonParseMs: number[];
	/** Extra resident memory ÷ header size, for parseHeader and for decode + JSON.parse. */
	memoryRatio: number | undefined;
	jsonMemoryRatio: number | undefined;
}

const range = (xs: number[], digits: number) =>
	xs.length === 0 ? "?" : `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;

/** Extra peak memory of one parse in a child, as a multiple of the header size. */
async function childMemory(mode: "parse" | "json", file: string, fileSize: number, headerBytes: number): Promise<number | undefined> {
	const run = await runMeasured(process.execPath, ["--expose-gc", "--import", "tsx", CHILD, mode, file, String(fileSize)]);
	const line = run.stdout.trim().split("\n").pop();
	if (run.exitCode !== 0 || line === undefined || line === "") return undefined;
	const { rssBefore, peakRss } = JSON.parse(line) as { rssBefore: number; peakRss: number };
	return Math.max(0, peakRss - rssBefore) / headerBytes;
}

/** Runs the benchmark and returns each shape's figures (also printed through `log`). */
export async function runHeaderBench(opts: HeaderBenchOptions = {}): Promise<HeaderBenchResult[]> {
	const log = opts.log ?? ((line: string) => console.log(line));
	const repeat = opts.repeat ?? 3;
	const results: HeaderBenchResult[] = [];
	const dir = await mkdtemp(join(tmpdir(), "lm-merge-header-bench-"));
	try {
		for (const shape of opts.shapes ?? (Object.keys(HEADER_SHAPES) as HeaderShape[])) {
			const { bytes, fileSize, tensors } = HEADER_SHAPES[shape]();
			const headerBytes = bytes.length - 8;
			const parseMs: number[] = [];
			const jsonParseMs: number[] = [];
			for (let r = 0; r < repeat; r++) {
				const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8));
				let t = performance.now();
				JSON.parse(text);
				jsonParseMs.push(performance.now() - t);
				t = performance.now();
				parseHeader(bytes, fileSize, shape);
				parseMs.push(performance.now() - t);
			}
			const file = join(dir, `${shape}.bin`);
			await writeFile(file, bytes);
			const memoryRatio = await childMemory("parse", file, fileSize, headerBytes);
			const jsonMemoryRatio = await childMemory("json", file, fileSize, headerBytes);
			await rm(file);
			const timeRatios = parseMs.map((ms, i) => ms / jsonParseMs[i]!);
			results.push({ shape, headerBytes, tensors, timeRatios, parseMs, jsonParseMs, memoryRatio, jsonMemoryRatio });
			const mem = (x: number | undefined) => (x === undefined ? "?" : `${x.toFixed(2)}×`);
			log(
				`${shape.padEnd(8)} ${(headerBytes / 1e6).toFixed(1)} MB, ${tensors} tensors: ` +
					`parseHeader ${range(parseMs, 0)} ms, JSON.parse ${range(jsonParseMs, 0)} ms, ` +
					`time ratio ${range(timeRatios, 2)} (target ≤ ${HEADER_TIME_TARGET}); ` +
					`extra memory ${mem(memoryRatio)} the header (target ≤ ${HEADER_MEMORY_TARGET}; decode + JSON.parse ${mem(jsonMemoryRatio)})`,
			);
		}
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
	return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
	const at = process.argv.indexOf("--repeat");
	await runHeaderBench(at > 0 ? { repeat: Number(process.argv[at + 1]) } : {});
}
