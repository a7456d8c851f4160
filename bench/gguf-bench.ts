/**
 * GGUF export benchmark: generates a Mistral-shaped bf16 checkpoint (full width; 2 layers by default, 32 for the
 * 7B shape), then for each type runs `merge export` in a child process (the compiled CLI, as users run it) and
 * compares its time with the I/O floor measured right after it in the same run: reading the model's files once
 * and writing + fsyncing as many bytes as the GGUF file has. Reports seconds, floor, ratio, file size and the
 * child's peak RSS; the targets are ratio ≤ 1.3 and peak RSS ≤ 1.5 GB. The page cache is emptied before every
 * measurement when allowed (root).
 *
 *   npx tsx bench/gguf-bench.ts [--layers 2] [--types f16,q8_0,q4_k_m] [--repeat 1] [--threads N] [--dir DIR] [--keep]
 */
import { mkdtemp, rm, stat, statfs, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ExecError, GGUF_EXPORT_TYPES, isGgufExportType, type GgufExportType } from "../src/index.js";
import { tinyTokenizerFiles } from "../src/fixtures/tiny-tokenizer.js";
import { tinyTensorSpecs } from "../src/fixtures/tiny-weights.js";
import { MISTRAL_7B_SHAPE, writeBenchPair } from "./fixtures.js";
import { dropCaches, measureIoFloor, modelFiles } from "./io-floor.js";
import { runMeasured } from "./rss.js";

/** The issue's targets: wall within 1.3× of the I/O floor, peak RSS at most 1.5 GB. */
export const GGUF_RATIO_TARGET = 1.3;
export const GGUF_RSS_TARGET_BYTES = 1.5e9;

/** The types the bench runs by default: the common float, 8-bit and 4-bit downloads. */
export const GGUF_BENCH_TYPES: readonly GgufExportType[] = ["f16", "q8_0", "q4_k_m"];

export interface GgufBenchOptions {
	layers?: number;
	types?: readonly GgufExportType[];
	threads?: number;
	/** Floor + export pairs per type (median ratio reported, range printed). Default 1. */
	repeat?: number;
	keep?: boolean;
	dir?: string;
	log?: (line: string) => void;
}

export interface GgufBenchRow {
	type: GgufExportType;
	exportSeconds: number[];
	floorSeconds: number[];
	ratios: number[];
	fileBytes: number;
	peakRssBytes: number | undefined;
	error?: string;
}

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CHILD = join(ROOT, "bench", "merge-child.ts");
const DISK_MARGIN_BYTES = 2e9;

async function buildDist(): Promise<void> {
	const { execFile } = await import("node:child_process");
	const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
	await new Promise<void>((resolve, reject) =>
		execFile(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ROOT }, (err, stdout) => (err === null ? resolve() : reject(new Error(`npm run build failed:\n${stdout}`)))),
	);
}

const fmt = (xs: readonly number[], digits: number) => {
	const lo = Math.min(...xs);
	const hi = Math.max(...xs);
	return lo === hi || xs.length < 2 ? lo.toFixed(digits) : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`;
};

export function formatGgufTable(rows: readonly GgufBenchRow[], readBytes: number): string[] {
	const lines = [`type     export s      floor s       ratio (≤ ${GGUF_RATIO_TARGET})   file         peak RSS (≤ 1.5 GB)`];
	for (const r of rows) {
		if (r.error !== undefined) {
			lines.push(`${r.type.padEnd(8)} error: ${r.error}`);
			continue;
		}
		const ratio = [...r.ratios].sort((a, b) => a - b)[Math.floor((r.ratios.length - 1) / 2)]!;
		const rss = r.peakRssBytes !== undefined ? `${(r.peakRssBytes / 1e9).toFixed(2)} GB` : "?";
		const ok = ratio <= GGUF_RATIO_TARGET ? "ok" : "OVER";
		const rssOk = r.peakRssBytes !== undefined && r.peakRssBytes <= GGUF_RSS_TARGET_BYTES ? "ok" : "OVER";
		lines.push(
			`${r.type.padEnd(8)} ${fmt(r.exportSeconds, 1).padEnd(13)} ${fmt(r.floorSeconds, 1).padEnd(13)} ${`${ratio.toFixed(2)} (${fmt(r.ratios, 2)}) ${ok}`.padEnd(22)} ${`${(r.fileBytes / 1e9).toFixed(2)} GB`.padEnd(12)} ${rss} ${rssOk}`,
		);
	}
	lines.push(`(floor: read ${(readBytes / 1e9).toFixed(2)} GB + write and fsync the file's bytes, measured after each export)`);
	return lines;
}

export async function runGgufBench(opts: GgufBenchOptions = {}): Promise<GgufBenchRow[]> {
	const log = opts.log ?? ((line: string) => console.log(line));
	const layers = opts.layers ?? 2;
	const types = opts.types ?? GGUF_BENCH_TYPES;
	const threads = opts.threads ?? availableParallelism();
	const shape = { ...MISTRAL_7B_SHAPE, layers };
	const modelBytes = tinyTensorSpecs(shape).reduce((a, s) => a + s.shape.reduce((x, d) => x * d, 2), 0);
	const parent = opts.dir ?? tmpdir();
	const fs = await statfs(parent);
	// The generator writes a base and a tuned model; then one output (f32 at most twice the bf16 size) at a time.
	const needed = modelBytes * 4 + DISK_MARGIN_BYTES;
	if (fs.bavail * fs.bsize < needed) {
		throw new ExecError("DiskFull", `${parent}: ${((fs.bavail * fs.bsize) / 1e9).toFixed(1)} GB free, the ${layers}-layer GGUF bench needs ${(needed / 1e9).toFixed(1)} GB`);
	}
	await buildDist();
	const dir = await mkdtemp(join(parent, "lm-merge-gguf-bench-"));
	const rows: GgufBenchRow[] = [];
	try {
		let t = performance.now();
		const pair = await writeBenchPair(dir, { shape });
		await rm(pair.tuned, { recursive: true, force: true });
		// The GGUF file embeds the tokenizer: the tiny one, padded to the 32000 rows (the export copies it, cheaply).
		for (const [name, value] of Object.entries(tinyTokenizerFiles(shape.vocab))) await writeFile(join(pair.base, name), JSON.stringify(value));
		log(`generated ${(pair.bytesPerModel / 1e9).toFixed(2)} GB bf16 (${layers} layers, ${pair.tensors} tensors) in ${((performance.now() - t) / 1000).toFixed(1)} s; ${threads} threads`);
		const inputs = (await modelFiles(pair.base)).map((f) => f.path);
		const cold = await dropCaches();
		log(cold ? "page cache dropped before every measurement (cold reads)" : "cannot drop the page cache (not root?): all figures are warm-cache");
		for (const type of types) {
			const out = join(dir, `model-${type}.gguf`);
			const row: GgufBenchRow = { type, exportSeconds: [], floorSeconds: [], ratios: [], fileBytes: 0, peakRssBytes: undefined };
			for (let r = 0; r < Math.max(1, opts.repeat ?? 1); r++) {
				await rm(out, { force: true });
				await dropCaches();
				t = performance.now();
				const run = await runMeasured(process.execPath, ["--import", "tsx", CHILD, "export", pair.base, "--type", type, "--out", out, "--threads", String(threads), "--json"], { cwd: ROOT });
				if (run.exitCode !== 0) {
					row.error = run.stderr.split("\n").find((l) => l.startsWith("error:")) ?? `exit ${run.exitCode}`;
					break;
				}
				const summary = JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}") as { exports?: Array<{ seconds: number; bytes: number }> };
				const seconds = summary.exports?.[0]?.seconds ?? run.wallSeconds;
				row.fileBytes = (await stat(out)).size;
				await dropCaches();
				const floor = (await measureIoFloor(inputs, row.fileBytes, dir)).seconds;
				row.exportSeconds.push(seconds);
				row.floorSeconds.push(floor);
				row.ratios.push(seconds / floor);
				row.peakRssBytes = Math.max(row.peakRssBytes ?? 0, run.peakRssBytes ?? 0) || undefined;
				log(`  ${type}: ${seconds.toFixed(1)} s, floor ${floor.toFixed(1)} s, ratio ${(seconds / floor).toFixed(2)}, peak RSS ${((run.peakRssBytes ?? 0) / 1e9).toFixed(2)} GB`);
			}
			if (opts.keep !== true) await rm(out, { force: true });
			rows.push(row);
		}
		for (const line of formatGgufTable(rows, modelBytes)) log(line);
		return rows;
	} finally {
		if (opts.keep !== true) await rm(dir, { recursive: true, force: true });
		else log(`kept ${dir}`);
	}
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
	const { values } = parseArgs({
		options: { layers: { type: "string" }, types: { type: "string" }, threads: { type: "string" }, repeat: { type: "string" }, dir: { type: "string" }, keep: { type: "boolean" } },
		strict: true,
	});
	const types = values.types?.split(",").map((s) => s.trim());
	for (const t of types ?? []) if (!isGgufExportType(t)) throw new Error(`--types ${t}: expected one of ${GGUF_EXPORT_TYPES.join(", ")}`);
	await runGgufBench({
		...(values.layers !== undefined ? { layers: Number(values.layers) } : {}),
		...(types !== undefined ? { types: types as GgufExportType[] } : {}),
		...(values.threads !== undefined ? { threads: Number(values.threads) } : {}),
		...(values.repeat !== undefined ? { repeat: Number(values.repeat) } : {}),
		...(values.dir !== undefined ? { dir: values.dir } : {}),
		keep: values.keep === true,
	});
}
