/**
 * Kernel throughput: the merge kernels on float32 arrays (no I/O, no bf16 conversion), in output elements per
 * second at 1 and N threads, next to mergekit's CPU figures. Each method case runs three ways (kernel-cases.ts):
 * "copy" (the plain library function), "in place" (the method with `inPlace`, as the executor runs small tensors;
 * fresh input copies are made untimed before every run) and "streamed" (the method's chunked form over 64 Ki-element
 * blocks, as the executor runs every larger tensor; kernel-streamed.ts). Raw rows time building blocks.
 * The 1-thread rate is per second of process CPU time in this thread; the N-thread rate runs the same case in N
 * worker threads at once (kernel-threads.ts) and counts N × elements per wall second of the slowest.
 *
 * Run: `npx tsx bench/kernel-bench.ts [--elements N] [--repeats R] [--threads N] [--only ties,dare]`.
 */
import { availableParallelism, loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { UsageError } from "../src/errors.js";
import { benchTensors, CaseEnv, type KernelMode, kernelCases, modeRun, modesOf } from "./kernel-cases.js";
import { aggregateRate, KernelThreads } from "./kernel-threads.js";

/** Elements per test tensor: 16 Mi, a 4096 × 4096 projection, large enough to swamp timer noise. */
export const KERNEL_ELEMENTS = 16 * 2 ** 20;
/** Runs per kernel; the fastest counts (the first includes JIT warm-up and page faults; the machine is shared). */
const DEFAULT_REPEATS = 3;

/** mergekit's CPU throughput on 2 threads (elements/s, low–high) as quoted in issue 5, and our target multiple. */
export const MERGEKIT_FIGURES: Record<string, { low: number; high: number; targetFactor: number } | undefined> = {
	slerp: { low: 80e6, high: 200e6, targetFactor: 2 },
	ties: { low: 3e6, high: 11e6, targetFactor: 10 },
	dare: { low: 3e6, high: 11e6, targetFactor: 10 },
};

/** A rate against mergekit's upper figure. */
export interface VersusMergekit {
	/** mergekit's upper figure (elements/s, 2 threads). */
	reference: number;
	ratio: number;
	targetFactor: number;
	met: boolean;
}

/** One table row. Rates are undefined when the case has no form for the mode (DELLA is not streamed). */
export interface KernelResult {
	/** Case label, e.g. "dare_ties (rescale=inverse_density)". */
	method: string;
	mode: KernelMode;
	/** Non-base models merged (0 for raw rows). */
	models: number;
	/** Input arrays the kernel reads (models plus the base when used). */
	inputs: number;
	/** 1 thread: output elements per second of this thread's CPU time (the kernel's own time on one core). */
	elementsPerSecond: number | undefined;
	/** 1 thread: output elements per second of wall time (lower when other processes share the cores). */
	elementsPerSecondWall: number | undefined;
	/** Worker threads of the N-thread rate. */
	threads: number;
	/** N threads at once: N × elements per wall second of the slowest; undefined when threads is 1. */
	elementsPerSecondN: number | undefined;
	/** The N-thread rate (the 1-thread rate when threads is 1) against mergekit's upper figure, when there is one. */
	vsMergekit?: VersusMergekit;
}

/** Options of runKernelBench. */
export interface KernelBenchOptions {
	elements?: number;
	repeats?: number;
	/** Threads of the second rate column; default: the machine's cores. 1 skips the worker threads. */
	threads?: number;
	/** Keep only cases whose label contains one of these strings. */
	only?: readonly string[];
	log?: (line: string) => void;
}

/** Formats elements/s as "123.4 M/s"; "-" when there is no rate. */
export function formatRate(perSecond: number | undefined): string {
	return perSecond === undefined || !Number.isFinite(perSecond) ? "-" : `${(perSecond / 1e6).toFixed(1)} M/s`;
}

/** `rate` against mergekit's upper figure for `figure` (a MERGEKIT_FIGURES key), if both exist. */
export function versusMergekit(rate: number | undefined, figure: string | undefined): VersusMergekit | undefined {
	const ref = figure !== undefined ? MERGEKIT_FIGURES[figure] : undefined;
	if (ref === undefined || rate === undefined) return undefined;
	const ratio = rate / ref.high;
	return { reference: ref.high, ratio, targetFactor: ref.targetFactor, met: ratio >= ref.targetFactor };
}

/** "×2.3 of 200 M/s, target ×2: met". */
export function formatVersus(v: VersusMergekit | undefined): string {
	return v === undefined
		? ""
		: `×${v.ratio.toFixed(1)} of ${v.reference / 1e6} M/s, target ×${v.targetFactor}: ${v.met ? "met" : "not met"}`;
}

/** Column widths of the table. */
const CASE_WIDTH = 38;
const RATE_WIDTH = 11;

/** The table's header line. */
export function kernelHeader(threads: number): string {
	const cols = ["1 thr cpu", "1 thr wall", `${threads} thr wall`].map((c) => c.padStart(RATE_WIDTH)).join(" ");
	return (
		`${"case".padEnd(CASE_WIDTH)} ${"models".padStart(6)} ${"mode".padEnd(8)} ${cols}` +
		`  vs mergekit (${threads > 1 ? `${threads} threads` : "1 thread cpu"})`
	);
}

/** One row of the table. */
export function formatKernelRow(r: KernelResult): string {
	const rates = [r.elementsPerSecond, r.elementsPerSecondWall, r.elementsPerSecondN]
		.map((v) => formatRate(v).padStart(RATE_WIDTH))
		.join(" ");
	const head = `${r.method.padEnd(CASE_WIDTH)} ${String(r.models).padStart(6)} ${r.mode.padEnd(8)}`;
	return `${head} ${rates}  ${formatVersus(r.vsMergekit)}`.trimEnd();
}

/** Wall and CPU seconds of one timed run. */
interface Timing {
	wall: number;
	cpu: number;
}

/**
 * The fastest of `repeats` runs (by CPU time: on a shared machine wall time also counts other processes' turns;
 * the worker threads are idle meanwhile, so process CPU time is the kernel's own time); `prepare` runs untimed first.
 */
function bestOf(repeats: number, run: () => unknown, prepare?: () => void): Timing {
	let best: Timing = { wall: Infinity, cpu: Infinity };
	for (let r = 0; r < repeats; r++) {
		prepare?.();
		const cpu0 = process.cpuUsage();
		const t = performance.now();
		run();
		const wall = (performance.now() - t) / 1000;
		const used = process.cpuUsage(cpu0);
		const cpu = (used.user + used.system) / 1e6;
		if (cpu < best.cpu) best = { wall, cpu };
	}
	return best;
}

/** Times every case in every mode on `elements`-long bf16-valued checkpoint-like arrays and prints a table. */
export async function runKernelBench(opts: KernelBenchOptions = {}): Promise<KernelResult[]> {
	const log = opts.log ?? ((line: string) => console.log(line));
	const n = opts.elements ?? KERNEL_ELEMENTS;
	const repeats = opts.repeats ?? DEFAULT_REPEATS;
	const threads = opts.threads ?? availableParallelism();
	const env = new CaseEnv(benchTensors(n), n);
	const only = opts.only;
	const cases = kernelCases(env.data, n)
		.map((c, index) => ({ c, index }))
		.filter(({ c }) => only === undefined || only.some((s) => c.label.includes(s)));
	const pool = threads > 1 ? await KernelThreads.start(threads, n) : undefined;
	const results: KernelResult[] = [];
	try {
		log(
			`kernels on ${n} float32 elements per input, best of ${repeats}; ${threads} thr: ${threads} worker threads at once, ` +
				`N × elements / slowest; mergekit: 2 threads; load average ${loadavg()[0]!.toFixed(1)}`,
		);
		log(kernelHeader(threads));
		for (const { c, index } of cases) {
			for (const mode of modesOf(c)) {
				const run = modeRun(c, mode, env);
				const timing = run !== undefined ? bestOf(repeats, run.run, run.prepare) : undefined;
				const rateN = run !== undefined && pool !== undefined ? aggregateRate(n, await pool.time(index, mode, repeats)) : undefined;
				const r: KernelResult = {
					method: c.label,
					mode,
					models: c.models,
					inputs: c.models + (c.usesBase ? 1 : 0),
					elementsPerSecond: timing !== undefined ? n / timing.cpu : undefined,
					elementsPerSecondWall: timing !== undefined ? n / timing.wall : undefined,
					threads,
					elementsPerSecondN: rateN,
				};
				const versus = versusMergekit(pool !== undefined ? rateN : r.elementsPerSecond, c.figure);
				if (versus !== undefined) r.vsMergekit = versus;
				results.push(r);
				log(formatKernelRow(r));
			}
		}
	} finally {
		await pool?.close();
	}
	return results;
}

/** A positive integer flag value. */
function positiveInt(value: string | undefined, flag: string): number | undefined {
	if (value === undefined) return undefined;
	const v = Number(value);
	if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${flag} ${value}: expected a positive integer`);
	return v;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
	const { values } = parseArgs({
		options: { elements: { type: "string" }, repeats: { type: "string" }, threads: { type: "string" }, only: { type: "string" } },
	});
	const elements = positiveInt(values.elements, "elements");
	const repeats = positiveInt(values.repeats, "repeats");
	const threads = positiveInt(values.threads, "threads");
	await runKernelBench({
		...(elements !== undefined ? { elements } : {}),
		...(repeats !== undefined ? { repeats } : {}),
		...(threads !== undefined ? { threads } : {}),
		...(values.only !== undefined ? { only: values.only.split(",") } : {}),
	});
}
