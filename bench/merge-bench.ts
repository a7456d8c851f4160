/**
 * Merge benchmark: generates Mistral-shaped bf16 checkpoints (full width; 2 layers by default, 32 for the 7B
 * shape), then for each method runs `merge run` in a child process and compares its time with the I/O floor
 * measured in the same run, reports the child's peak RSS, and checks that `--threads 1` and `--threads N`
 * write identical bytes. The page cache is emptied before every measurement when allowed (root).
 *
 *   npx tsx bench/merge-bench.ts [--layers 2] [--methods slerp,ties] [--no-compare] [--repeat 3] [--threads N] [--dir DIR] [--keep]
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, statfs, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ExecError } from "../src/errors.js";
import { tinyTensorSpecs } from "../src/fixtures/tiny-weights.js";
import { MISTRAL_7B_SHAPE, writeBenchPair } from "./fixtures.js";
import { directIoWorks, dropCaches, measureIoFloor, modelFiles } from "./io-floor.js";
import { BENCH_METHODS, type BenchMethod, benchRecipe, isBenchMethod, PEAK_RSS_TARGET_BYTES, RATIO_TARGETS } from "./merge-recipes.js";
import { formatMergeTable, type MergeBenchRow } from "./merge-table.js";
import { runMeasured } from "./rss.js";

/** Options of runMergeBench. */
export interface MergeBenchOptions {
	/** Decoder layers of the generated models (default 2; 32 is the 7B shape). */
	layers?: number;
	/** Methods to run (default all of BENCH_METHODS). */
	methods?: readonly BenchMethod[];
	/** Threads of the timed run (default: the number of cores). */
	threads?: number;
	/** Also run with --threads 1 and compare output bytes (default true when threads > 1). */
	compareThreads?: boolean;
	/** Keep the generated models and outputs. */
	keep?: boolean;
	/** Parent folder of the scratch folder (default os.tmpdir()). */
	dir?: string;
	/**
	 * Floor + merge pairs per method (default 3): a virtual disk's speed wanders by 2× from one minute to the next,
	 * so each merge is compared with the floor measured just before it and the median pair is reported.
	 */
	repeat?: number;
	log?: (line: string) => void;
}

/** Free space to leave on the disk on top of what the bench writes, so other work is not starved. */
const DISK_MARGIN_BYTES = 2e9;
/** The repository root: the child runs there so `--import tsx` resolves from its node_modules. */
const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const CHILD = join(ROOT, "bench", "merge-child.ts");

/** Compiles the library into dist/ (the merge children run the compiled CLI); throws if tsc fails. */
async function buildDist(): Promise<void> {
	const { execFile } = await import("node:child_process");
	const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
	await new Promise<void>((resolve, reject) =>
		execFile(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ROOT }, (err, stdout) =>
			err === null ? resolve() : reject(new Error(`npm run build failed:\n${stdout}`)),
		),
	);
}

/** sha256 of the output's safetensors files, in name order, as one digest. */
async function hashOutput(dir: string): Promise<string> {
	const hash = createHash("sha256");
	for (const f of await modelFiles(dir)) {
		for await (const chunk of createReadStream(f.path, { highWaterMark: 16 * 2 ** 20 })) hash.update(chunk as Buffer);
	}
	return hash.digest("hex");
}

/** One child merge: `merge run recipe --out out --threads t --json`, measured. */
interface ChildRun {
	wall: number;
	merge: number;
	cpu: number | undefined;
	rss: number | undefined;
	rssSource: string;
	error?: string;
}

async function runChild(recipe: string, out: string, threads: number): Promise<ChildRun> {
	const r = await runMeasured(
		process.execPath,
		["--import", "tsx", CHILD, "run", recipe, "--out", out, "--threads", String(threads), "--json"],
		{ cwd: ROOT },
	);
	const common = { wall: r.wallSeconds, cpu: r.cpuSeconds, rss: r.peakRssBytes, rssSource: r.rssSource };
	if (r.exitCode !== 0) {
		const line = r.stderr.split("\n").find((l) => l.startsWith("error:")) ?? r.stderr.trim().split("\n").pop() ?? "";
		return { ...common, merge: NaN, error: `exit ${r.exitCode}: ${line}` };
	}
	const summary = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { seconds?: number };
	return { ...common, merge: summary.seconds ?? NaN };
}

/** The middle value (the lower middle for an even count). */
function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}

/** Runs the benchmark; returns one row per method (and per thread count when comparing). */
export async function runMergeBench(opts: MergeBenchOptions = {}): Promise<MergeBenchRow[]> {
	const log = opts.log ?? ((line: string) => console.log(line));
	const layers = opts.layers ?? 2;
	const methods = opts.methods ?? BENCH_METHODS;
	const threads = opts.threads ?? availableParallelism();
	const compare = (opts.compareThreads ?? true) && threads > 1;
	const shape = { ...MISTRAL_7B_SHAPE, layers };
	const modelBytes = tinyTensorSpecs(shape).reduce((a, s) => a + s.shape.reduce((x, d) => x * d, 2), 0);
	const parent = opts.dir ?? tmpdir();
	const fs = await statfs(parent);
	// Two inputs plus one output at a time (the floor's scratch file never coexists with an output), or every
	// output when they are kept.
	const outputs = opts.keep === true ? methods.length * (compare ? 2 : 1) : 1;
	const needed = modelBytes * (2 + outputs) + DISK_MARGIN_BYTES;
	if (fs.bavail * fs.bsize < needed) {
		throw new ExecError(
			"DiskFull",
			`${parent}: ${((fs.bavail * fs.bsize) / 1e9).toFixed(1)} GB free, the ${layers}-layer merge bench needs ${(needed / 1e9).toFixed(1)} GB`,
		);
	}
	await buildDist();
	const dir = await mkdtemp(join(parent, "lm-merge-bench-"));
	const rows: MergeBenchRow[] = [];
	try {
		const t = performance.now();
		const pair = await writeBenchPair(dir, { shape });
		log(
			`generated 2 × ${(pair.bytesPerModel / 1e9).toFixed(2)} GB bf16 (${layers} layers, ${pair.tensors} tensors) ` +
				`in ${((performance.now() - t) / 1000).toFixed(1)} s: ${dir}`,
		);
		const inputs = [...(await modelFiles(pair.base)), ...(await modelFiles(pair.tuned))];
		const outBytes = (await modelFiles(pair.base)).reduce((a, f) => a + f.bytes, 0);
		const cold = await dropCaches();
		log(
			cold
				? "page cache dropped before every measurement (cold reads)"
				: "cannot drop the page cache (not root?): all figures are warm-cache",
		);
		const direct = await directIoWorks(inputs[0]!.path);
		if (!direct) log("the file system refuses O_DIRECT: no direct floor (and the merge uses plain I/O too)");
		const repeat = Math.max(1, Math.floor(opts.repeat ?? 3));
		for (const method of methods) {
			const recipe = join(dir, `${method}.yml`);
			await writeFile(recipe, benchRecipe(method, pair.base, pair.tuned));
			const counts = compare ? [threads, 1] : [threads];
			const hashes: string[] = [];
			for (const n of counts) {
				const out = join(dir, `out-${method}-t${n}`);
				// The compare run at 1 thread is about bytes, not time: one pair is enough.
				const pairs: { floor: number; direct: number | undefined; run: ChildRun }[] = [];
				for (let r = 0; r < (n === threads ? repeat : 1); r++) {
					await dropCaches();
					const plain = (
						await measureIoFloor(
							inputs.map((f) => f.path),
							outBytes,
							dir,
						)
					).seconds;
					let directFloor: number | undefined;
					if (direct) {
						await dropCaches();
						directFloor = (
							await measureIoFloor(
								inputs.map((f) => f.path),
								outBytes,
								dir,
								{ direct: true },
							)
						).seconds;
					}
					await rm(out, { recursive: true, force: true });
					await dropCaches();
					const run = await runChild(recipe, out, n);
					pairs.push({ floor: plain, direct: directFloor, run });
					if (run.error !== undefined) break;
				}
				const failed = pairs.find((p) => p.run.error !== undefined)?.run;
				const hash = failed === undefined ? await hashOutput(out) : undefined;
				if (hash !== undefined) hashes.push(hash);
				if (opts.keep !== true) await rm(out, { recursive: true, force: true });
				const ratios = pairs.map((p) => p.run.merge / p.floor);
				const ratio = median(ratios);
				const mid = pairs[ratios.indexOf(ratio)] ?? pairs[0]!;
				const rss = Math.max(...pairs.map((p) => p.run.rss ?? 0)) || undefined;
				const directRatio = direct ? median(pairs.map((p) => p.run.merge / p.direct!)) : undefined;
				rows.push({
					method,
					threads: n,
					wallSeconds: mid.run.wall,
					mergeSeconds: mid.run.merge,
					cpuSeconds: mid.run.cpu,
					elementsPerSecond: modelBytes / 2 / mid.run.merge,
					floorSeconds: mid.floor,
					directFloorSeconds: mid.direct,
					directRatio,
					ratio,
					ratioRange: [Math.min(...ratios), Math.max(...ratios)],
					pairs: pairs.length,
					ratioTarget: RATIO_TARGETS[method],
					peakRssBytes: rss,
					rssSource: mid.run.rssSource,
					withinTarget: failed === undefined && ratio <= RATIO_TARGETS[method] && rss !== undefined && rss <= PEAK_RSS_TARGET_BYTES,
					withinDirect: directRatio === undefined ? undefined : failed === undefined && directRatio <= RATIO_TARGETS[method],
					...(failed?.error !== undefined ? { error: failed.error } : {}),
				});
			}
			const identical = compare && hashes.length === 2 ? hashes[0] === hashes[1] : undefined;
			for (const row of rows.filter((r) => r.method === method)) row.identicalAcrossThreads = identical;
		}
		for (const line of formatMergeTable(rows, { floorNote: cold ? "cold" : "warm", threads })) log(line);
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
			methods: { type: "string" },
			dir: { type: "string" },
			keep: { type: "boolean" },
			"no-compare": { type: "boolean" },
			threads: { type: "string" },
			repeat: { type: "string" },
		},
	});
	const methods = (values.methods ?? BENCH_METHODS.join(",")).split(",").filter(isBenchMethod);
	await runMergeBench({
		layers: Number(values.layers ?? 2),
		methods,
		keep: values.keep === true,
		compareThreads: values["no-compare"] !== true,
		...(values.threads !== undefined ? { threads: Number(values.threads) } : {}),
		...(values.repeat !== undefined ? { repeat: Number(values.repeat) } : {}),
		...(values.dir !== undefined ? { dir: values.dir } : {}),
	});
}
