/**
 * GGUF export benchmark: generates a Mistral-shaped bf16 checkpoint (full width; 2 layers by default, 32 for the
 * 7B shape), then for each type runs `merge export` in a child process (the compiled CLI, as users run it) and
 * compares its time with the I/O floors measured right after it in the same run: reading the model's files once
 * and writing + fsyncing as many bytes as the GGUF file has, through the page cache (plain) and past it (direct,
 * O_DIRECT, as the export reads and writes). Reports seconds, both floors and ratios, file size, the child's CPU
 * seconds and peak RSS, and the load average around each run (the machine may be shared); the targets are
 * ratio ≤ 1.3 and peak RSS ≤ 1.5 GB. The page cache is emptied before every measurement when allowed (root).
 *
 *   npx tsx bench/gguf-bench.ts [--layers 2] [--types f16,q8_0,q4_k_m] [--repeat 3] [--threads N] [--dir DIR] [--keep]
 *                               [--model DIR]   (export an existing model folder, e.g. one kept by --keep)
 */
import { mkdtemp, rm, stat, statfs, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ExecError } from "../src/errors.js";
import { tinyTokenizerFiles } from "../src/fixtures/tiny-tokenizer.js";
import { tinyTensorSpecs } from "../src/fixtures/tiny-weights.js";
import { GGUF_EXPORT_TYPES, type GgufExportType, isGgufExportType } from "../src/gguf/mix.js";
import { MISTRAL_7B_SHAPE, writeBenchPair } from "./fixtures.js";
import { directIoWorks, dropCaches, measureIoFloor, modelFiles } from "./io-floor.js";
import { runMeasured } from "./rss.js";

/** The targets: wall within 1.3× of the I/O floor, peak RSS at most 1.5 GB. */
export const GGUF_RATIO_TARGET = 1.3;
export const GGUF_RSS_TARGET_BYTES = 1.5e9;

/** The types the bench runs by default: the common float, 8-bit and 4-bit downloads. */
export const GGUF_BENCH_TYPES: readonly GgufExportType[] = ["f16", "q8_0", "q4_k_m"];

export interface GgufBenchOptions {
	layers?: number;
	types?: readonly GgufExportType[];
	threads?: number;
	/** Export + floor measurements per type (median ratio reported, range printed). Default 3. */
	repeat?: number;
	/** An existing model folder to export instead of a generated one (left in place). */
	model?: string;
	keep?: boolean;
	dir?: string;
	log?: (line: string) => void;
}

export interface GgufBenchRow {
	type: GgufExportType;
	exportSeconds: number[];
	/** The plain floor (through the page cache) and its ratios. */
	floorSeconds: number[];
	ratios: number[];
	/** The direct floor (O_DIRECT), when the file system allows it, and its ratios. */
	directFloorSeconds: number[];
	directRatios: number[];
	/** 1-minute load average before and after each export. */
	load: number[];
	fileBytes: number;
	peakRssBytes: number | undefined;
	/** User + system CPU seconds of each export (GNU time), all threads: what the export costs on an idle machine. */
	cpuSeconds: number[];
	error?: string;
}

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CHILD = join(ROOT, "bench", "merge-child.ts");
const DISK_MARGIN_BYTES = 2e9;

async function buildDist(): Promise<void> {
	const { execFile } = await import("node:child_process");
	const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
	await new Promise<void>((resolve, reject) =>
		execFile(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ROOT }, (err, stdout) =>
			err === null ? resolve() : reject(new Error(`npm run build failed:\n${stdout}`)),
		),
	);
}

const fmt = (xs: readonly number[], digits: number) => {
	const lo = Math.min(...xs);
	const hi = Math.max(...xs);
	return lo === hi || xs.length < 2 ? lo.toFixed(digits) : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`;
};

export function formatGgufTable(rows: readonly GgufBenchRow[], readBytes: number): string[] {
	const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
	const lines = [
		`type     export s      floor s       ratio (≤ ${GGUF_RATIO_TARGET})        direct floor s  direct ratio      ` +
			`file       peak RSS (≤ 1.5 GB)  CPU s        load`,
	];
	for (const r of rows) {
		if (r.error !== undefined) {
			lines.push(`${r.type.padEnd(8)} error: ${r.error}`);
			continue;
		}
		const ratio = median(r.ratios);
		const rss = r.peakRssBytes !== undefined ? `${(r.peakRssBytes / 1e9).toFixed(2)} GB` : "?";
		const ok = ratio <= GGUF_RATIO_TARGET ? "ok" : "OVER";
		const rssOk = r.peakRssBytes !== undefined && r.peakRssBytes <= GGUF_RSS_TARGET_BYTES ? "ok" : "OVER";
		const direct = r.directRatios.length > 0 ? `${median(r.directRatios).toFixed(2)} (${fmt(r.directRatios, 2)})` : "-";
		lines.push(
			[
				r.type.padEnd(8),
				fmt(r.exportSeconds, 1).padEnd(13),
				fmt(r.floorSeconds, 1).padEnd(13),
				`${ratio.toFixed(2)} (${fmt(r.ratios, 2)}) ${ok}`.padEnd(25),
				(r.directFloorSeconds.length > 0 ? fmt(r.directFloorSeconds, 1) : "-").padEnd(15),
				direct.padEnd(17),
				`${(r.fileBytes / 1e9).toFixed(2)} GB`.padEnd(10),
				`${rss} ${rssOk}`.padEnd(20),
				(r.cpuSeconds.length > 0 ? fmt(r.cpuSeconds, 1) : "?").padEnd(12),
				fmt(r.load, 1),
			].join(" "),
		);
	}
	lines.push(
		`(floors: read ${(readBytes / 1e9).toFixed(2)} GB + write and fsync the file's bytes, ` +
			`measured right after each export; median ratio, range in parentheses)`,
	);
	return lines;
}

export async function runGgufBench(opts: GgufBenchOptions = {}): Promise<GgufBenchRow[]> {
	const log = opts.log ?? ((line: string) => console.log(line));
	const layers = opts.layers ?? 2;
	const repeat = Math.max(1, Math.floor(opts.repeat ?? 3));
	const types = opts.types ?? GGUF_BENCH_TYPES;
	const threads = opts.threads ?? availableParallelism();
	const shape = { ...MISTRAL_7B_SHAPE, layers };
	const modelBytes = tinyTensorSpecs(shape).reduce((a, s) => a + s.shape.reduce((x, d) => x * d, 2), 0);
	const parent = opts.dir ?? tmpdir();
	const fs = await statfs(parent);
	// The generator writes the model; then one output at a time (its size relative to bf16: f32 twice, f16/bf16 the
	// same, q8_0 34/64, the 4-6 bit mixes below half), deleted before its floor writes as many bytes.
	const outputShare = Math.max(...types.map((t) => (t === "f32" ? 2 : t === "f16" || t === "bf16" ? 1 : t === "q8_0" ? 34 / 64 : 0.5)));
	const needed = (opts.model !== undefined ? 0 : modelBytes) + modelBytes * outputShare + DISK_MARGIN_BYTES;
	if (fs.bavail * fs.bsize < needed) {
		throw new ExecError(
			"DiskFull",
			`${parent}: ${((fs.bavail * fs.bsize) / 1e9).toFixed(1)} GB free, the ${layers}-layer GGUF bench needs ${(needed / 1e9).toFixed(1)} GB`,
		);
	}
	await buildDist();
	const dir = await mkdtemp(join(parent, "lm-merge-gguf-bench-"));
	const rows: GgufBenchRow[] = [];
	try {
		const t = performance.now();
		let model = opts.model;
		if (model === undefined) {
			const pair = await writeBenchPair(dir, { shape, baseOnly: true });
			model = pair.base;
			// The GGUF file embeds the tokenizer: the tiny one, padded to the 32000 rows (the export copies it, cheaply).
			for (const [name, value] of Object.entries(tinyTokenizerFiles(shape.vocab)))
				await writeFile(join(model, name), JSON.stringify(value));
			log(
				`generated ${(pair.bytesPerModel / 1e9).toFixed(2)} GB bf16 (${layers} layers, ${pair.tensors} tensors) ` +
					`in ${((performance.now() - t) / 1000).toFixed(1)} s: ${model}`,
			);
		}
		const files = await modelFiles(model);
		const inputs = files.map((f) => f.path);
		const readBytes = files.reduce((a, f) => a + f.bytes, 0);
		log(
			`${model}: ${(readBytes / 1e9).toFixed(2)} GB in ${files.length} file(s); ${threads} threads; ${availableParallelism()} cores; ` +
				`load average ${loadavg()
					.map((x) => x.toFixed(1))
					.join(", ")}`,
		);
		const cold = await dropCaches();
		log(
			cold
				? "page cache dropped before every measurement (cold reads)"
				: "cannot drop the page cache (not root?): all figures are warm-cache",
		);
		const direct = await directIoWorks(inputs[0]!);
		if (!direct) log("the file system refuses O_DIRECT: no direct floor (and the export uses plain I/O too)");
		for (const type of types) {
			const out = join(dir, `model-${type}.gguf`);
			const row: GgufBenchRow = {
				type,
				exportSeconds: [],
				floorSeconds: [],
				ratios: [],
				directFloorSeconds: [],
				directRatios: [],
				load: [],
				fileBytes: 0,
				peakRssBytes: undefined,
				cpuSeconds: [],
			};
			for (let r = 0; r < repeat; r++) {
				await rm(out, { force: true });
				await dropCaches();
				row.load.push(loadavg()[0]!);
				const run = await runMeasured(
					process.execPath,
					["--import", "tsx", CHILD, "export", model, "--type", type, "--out", out, "--threads", String(threads), "--json"],
					{ cwd: ROOT },
				);
				row.load.push(loadavg()[0]!);
				if (run.exitCode !== 0) {
					row.error = run.stderr.split("\n").find((l) => l.startsWith("error:")) ?? `exit ${run.exitCode}`;
					break;
				}
				const summary = JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}") as { exports?: Array<{ seconds: number; bytes: number }> };
				const seconds = summary.exports?.[0]?.seconds ?? run.wallSeconds;
				row.fileBytes = (await stat(out)).size;
				await rm(out, { force: true });
				await dropCaches();
				const floor = (await measureIoFloor(inputs, row.fileBytes, dir)).seconds;
				let directFloor: number | undefined;
				if (direct) {
					await dropCaches();
					directFloor = (await measureIoFloor(inputs, row.fileBytes, dir, { direct: true })).seconds;
					row.directFloorSeconds.push(directFloor);
					row.directRatios.push(seconds / directFloor);
				}
				row.exportSeconds.push(seconds);
				row.floorSeconds.push(floor);
				row.ratios.push(seconds / floor);
				row.peakRssBytes = Math.max(row.peakRssBytes ?? 0, run.peakRssBytes ?? 0) || undefined;
				if (run.cpuSeconds !== undefined) row.cpuSeconds.push(run.cpuSeconds);
				const cpu = run.cpuSeconds !== undefined ? `, ${run.cpuSeconds.toFixed(1)} CPU-s` : "";
				const directNote =
					directFloor !== undefined ? `, direct floor ${directFloor.toFixed(1)} s (ratio ${(seconds / directFloor).toFixed(2)})` : "";
				log(
					`  ${type}: ${seconds.toFixed(1)} s${cpu}, floor ${floor.toFixed(1)} s (ratio ${(seconds / floor).toFixed(2)})${directNote}, ` +
						`peak RSS ${((run.peakRssBytes ?? 0) / 1e9).toFixed(2)} GB, load ${row.load
							.slice(-2)
							.map((x) => x.toFixed(1))
							.join("→")}`,
				);
			}
			rows.push(row);
		}
		for (const line of formatGgufTable(rows, readBytes)) log(line);
		return rows;
	} finally {
		if (opts.keep !== true) await rm(dir, { recursive: true, force: true });
		else log(`kept ${dir}`);
	}
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
	const { values } = parseArgs({
		options: {
			layers: { type: "string" },
			types: { type: "string" },
			threads: { type: "string" },
			repeat: { type: "string" },
			dir: { type: "string" },
			keep: { type: "boolean" },
			model: { type: "string" },
		},
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
		...(values.model !== undefined ? { model: values.model } : {}),
		keep: values.keep === true,
	});
}
