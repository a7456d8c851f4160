/**
 * `npm run bench`: runs the benchmark sections and prints each one.
 *
 *   npm run bench -- [--only io|header|merge|eval|kernels|gguf|llama|sweep[,...]] [--layers 2] [--dir DIR] [--keep]
 *                    [--methods linear,slerp,ties,dare_ties] [--threads N] [--repeat 3] [--no-compare] [--streaming-7b]
 *                    [--llama-7b]
 *
 * By default every section runs at its quick size (full-width 2-layer merges, a ~125M-parameter eval model).
 * The slow cases run only when asked: `--layers 32` (the 7B shape, ~14.5 GB per model), `--streaming-7b` and
 * `--llama-7b` (a 7B-shaped model exported to q8_0 and scored by llama.cpp).
 */
import { cpus, freemem, totalmem } from "node:os";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { UsageError } from "../src/errors.js";
import { runEvalBench } from "./eval-bench.js";
import { runGgufBench } from "./gguf-bench.js";
import { runHeaderBench } from "./header-bench.js";
import { runIoBench } from "./io-bench.js";
import { runKernelBench } from "./kernel-bench.js";
import { runLlamaBench } from "./llama-bench.js";
import { runMergeBench } from "./merge-bench.js";
import { BENCH_METHODS, type BenchMethod, isBenchMethod } from "./merge-recipes.js";
import { runSweepBench } from "./sweep-bench.js";

/**
 * Kernel cases the runner times: labels containing these (slerp, ties, dare_ties), the ones issue 5 sets targets
 * for; `npx tsx bench/kernel-bench.ts` runs every case.
 */
const KERNEL_CASES = ["slerp", "ties"];

/** The sections, in the order they run. `merge` includes `kernels`; `kernels` alone skips the merges. */
export const SECTIONS = ["io", "header", "kernels", "merge", "eval", "gguf", "llama", "sweep"] as const;
type Section = (typeof SECTIONS)[number];

/** Parsed command line of the runner. */
export interface BenchArgs {
	sections: Section[];
	layers: number;
	dir: string | undefined;
	keep: boolean;
	methods: BenchMethod[];
	threads: number | undefined;
	/** Floor + merge pairs per method (median reported); timed pairs per shape of the header section. */
	repeat: number | undefined;
	compare: boolean;
	streaming7b: boolean;
	llama7b: boolean;
}

/** A comma-separated list checked against `allowed`. */
function list<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
	const items = value
		.split(",")
		.map((s) => s.trim())
		.filter((s) => s !== "");
	for (const item of items) {
		if (!(allowed as readonly string[]).includes(item)) throw new UsageError(`--${flag} ${item}: expected one of ${allowed.join(", ")}`);
	}
	return items as T[];
}

/** A positive integer flag value. */
function positiveInt(value: string | undefined, flag: string): number | undefined {
	if (value === undefined) return undefined;
	const n = Number(value);
	if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} ${value}: expected a positive integer`);
	return n;
}

/** Parses the runner's flags; throws UsageError on unknown flags or bad values. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
	const parse = () =>
		parseArgs({
			args: [...argv],
			options: {
				only: { type: "string" },
				layers: { type: "string" },
				dir: { type: "string" },
				keep: { type: "boolean" },
				methods: { type: "string" },
				threads: { type: "string" },
				repeat: { type: "string" },
				"no-compare": { type: "boolean" },
				"streaming-7b": { type: "boolean" },
				"llama-7b": { type: "boolean" },
			},
			strict: true,
		});
	let values: ReturnType<typeof parse>["values"];
	try {
		({ values } = parse());
	} catch (err) {
		throw new UsageError((err as Error).message);
	}
	const methods = values.methods !== undefined ? list(values.methods, BENCH_METHODS, "methods").filter(isBenchMethod) : [...BENCH_METHODS];
	return {
		sections: values.only !== undefined ? list(values.only, SECTIONS, "only") : [...SECTIONS],
		layers: positiveInt(values.layers, "layers") ?? 2,
		dir: values.dir,
		keep: values.keep === true,
		methods,
		threads: positiveInt(values.threads, "threads"),
		repeat: positiveInt(values.repeat, "repeat"),
		compare: values["no-compare"] !== true,
		streaming7b: values["streaming-7b"] === true,
		llama7b: values["llama-7b"] === true,
	};
}

/** One line describing the machine, printed first so pasted results carry it. */
export function machineLine(): string {
	const cpu = cpus();
	return (
		`machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? "?"}, ` +
		`${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} free), ` +
		`node ${process.version}, ${process.platform}-${process.arch}`
	);
}

/** Runs the selected sections one after the other. */
export async function runBench(args: BenchArgs, log: (line: string) => void = (l) => console.log(l)): Promise<void> {
	log(machineLine());
	const wanted = new Set<Section>(args.sections);
	if (wanted.has("merge")) wanted.add("kernels");
	for (const section of SECTIONS.filter((s) => wanted.has(s))) {
		log("");
		log(`== ${section} ==`);
		const started = performance.now();
		switch (section) {
			case "io":
				await runIoBench({ log, ...(args.dir !== undefined ? { dir: args.dir } : {}) });
				break;
			case "header":
				await runHeaderBench({ log, ...(args.repeat !== undefined ? { repeat: args.repeat } : {}) });
				break;
			case "kernels":
				await runKernelBench({ log, only: KERNEL_CASES, ...(args.threads !== undefined ? { threads: args.threads } : {}) });
				break;
			case "merge":
				await runMergeBench({
					layers: args.layers,
					methods: args.methods,
					keep: args.keep,
					compareThreads: args.compare,
					log,
					...(args.threads !== undefined ? { threads: args.threads } : {}),
					...(args.repeat !== undefined ? { repeat: args.repeat } : {}),
					...(args.dir !== undefined ? { dir: args.dir } : {}),
				});
				break;
			case "eval":
				await runEvalBench({ log, keep: args.keep, streaming7b: args.streaming7b, ...(args.dir !== undefined ? { dir: args.dir } : {}) });
				break;
			case "gguf":
				await runGgufBench({
					layers: args.layers,
					log,
					keep: args.keep,
					...(args.threads !== undefined ? { threads: args.threads } : {}),
					...(args.repeat !== undefined ? { repeat: args.repeat } : {}),
					...(args.dir !== undefined ? { dir: args.dir } : {}),
				});
				break;
			case "llama":
				// llama.cpp runs on 2 threads as the targets fix (--threads overrides).
				await runLlamaBench({
					log,
					keep: args.keep,
					llama7b: args.llama7b,
					...(args.threads !== undefined ? { threads: args.threads } : {}),
					...(args.repeat !== undefined ? { repeat: args.repeat } : {}),
					...(args.dir !== undefined ? { dir: args.dir } : {}),
				});
				break;
			case "sweep":
				await runSweepBench({
					log,
					keep: args.keep,
					...(args.repeat !== undefined ? { repeat: args.repeat } : {}),
					...(args.dir !== undefined ? { dir: args.dir } : {}),
				});
				break;
		}
		log(`(${section}: ${((performance.now() - started) / 1000).toFixed(0)} s)`);
	}
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
	try {
		await runBench(parseBenchArgs(process.argv.slice(2)));
	} catch (err) {
		console.error(`error: ${(err as Error).message}`);
		process.exitCode = err instanceof UsageError ? 2 : 1;
	}
}
