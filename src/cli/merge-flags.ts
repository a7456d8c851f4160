import path from "node:path";
import type { Argv } from "yargs";
import {
	buildPlan,
	closePlan,
	parseDtypeName,
	parseSize,
	runMerge,
	UsageError,
	type MergeEvent,
	type MergeResult,
	type Recipe,
} from "../index.js";
import { describePlan } from "./describe-plan.js";
import { formatBytes, type Io } from "./output.js";
import { createRenderer } from "./render.js";
import { selectBackend } from "./backend.js";
import { ggufOutputs, parseGgufTypes, runExports } from "./gguf-export.js";

/** Flags shared by `merge run` and the quick method commands. */
export interface MergeFlags {
	out?: string;
	force?: boolean;
	dtype?: string;
	seed?: number;
	threads?: number;
	device?: string;
	"shard-size"?: string;
	json?: boolean;
	quiet?: boolean;
	"truncate-vocab"?: boolean;
	"dry-run"?: boolean;
	resume?: boolean;
	gguf?: string[];
}

export function withMergeFlags<T>(y: Argv<T>): Argv<T & MergeFlags> {
	return y
		.option("out", { alias: "o", type: "string", description: "Output folder (default: a descriptive folder under ./merged)" })
		.option("force", { type: "boolean", description: "Replace an existing non-empty output folder" })
		.option("dtype", { type: "string", description: "Output dtype: bfloat16 | float16 | float32 (default: the recipe's, else the inputs')" })
		.option("seed", { type: "number", description: "Seed for random methods (DARE, DELLA); default: the recipe's, else 0" })
		.option("threads", { type: "number", description: "Kernel threads (default: number of cores)" })
		.option("device", { type: "string", choices: ["cpu", "tfjs", "gpu"], description: "Where kernels run" })
		.option("shard-size", { type: "string", description: "Largest output shard, e.g. 5GB, 500MB, 2GiB (default 5GB)" })
		.option("json", { type: "boolean", description: "Print a machine-readable summary on stdout" })
		.option("quiet", { alias: "q", type: "boolean", description: "No progress output" })
		.option("truncate-vocab", { type: "boolean", description: "Merge embeddings of different vocab sizes on their common sub-matrix (mergekit's behaviour)" })
		.option("dry-run", { type: "boolean", description: "Plan and validate everything, print the plan, read no tensor data" })
		.option("resume", { type: "boolean", description: "Continue an interrupted merge from its verified shards" })
		.option("gguf", { type: "string", array: true, description: "Also write <out>/<name>-<type>.gguf for llama.cpp after the merge, e.g. --gguf q8_0,q4_k_m" }) as Argv<T & MergeFlags>;
}

/** A folder name that says what was merged: merged/slerp-biomistral-mistral-t0.5 */
export function defaultOutDir(recipe: Recipe, hint: string): string {
	const slug = hint.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 120);
	return path.join("merged", slug.length > 0 ? slug : recipe.mergeMethod);
}

/** Plans (and unless --dry-run, runs) a merge with CLI rendering. Ctrl-C aborts cleanly between tensors. */
export async function executeMerge(io: Io, recipe: Recipe, flags: MergeFlags, outHint: string): Promise<void> {
	const dtype = flags.dtype !== undefined ? parseDtypeName(flags.dtype) : undefined;
	if (flags.dtype !== undefined && dtype === undefined) {
		throw new UsageError(`--dtype ${flags.dtype}: expected bfloat16, float16 or float32`);
	}
	if (flags.seed !== undefined && (!Number.isSafeInteger(flags.seed) || flags.seed < 0)) {
		throw new UsageError(`--seed ${flags.seed}: expected a non-negative integer`);
	}
	if (flags.threads !== undefined && (!Number.isInteger(flags.threads) || flags.threads < 1)) {
		throw new UsageError(`--threads ${flags.threads}: expected a positive integer`);
	}
	const shardSize = flags["shard-size"] !== undefined ? parseSize(flags["shard-size"]) : undefined;
	// Checked before the merge runs, so a typo does not cost a whole merge.
	const ggufTypes = flags.gguf !== undefined ? parseGgufTypes(flags.gguf, "--gguf") : [];
	const plan = await buildPlan(recipe, {
		...(dtype !== undefined ? { dtype } : {}),
		...(flags.seed !== undefined ? { seed: flags.seed } : {}),
		...(flags["truncate-vocab"] === true ? { truncateVocab: true } : {}),
		...(flags.threads !== undefined ? { threads: flags.threads } : {}),
	});
	const out = flags.out ?? defaultOutDir(recipe, outHint);
	try {
		if (flags["dry-run"] === true) {
			describePlan(io, plan, { json: flags.json === true, out, shardSize });
			return;
		}
		const backend = await selectBackend(flags.device);
		const controller = new AbortController();
		let interrupts = 0;
		const onSigint = () => {
			interrupts++;
			if (interrupts > 1) process.exit(130);
			io.err("interrupt: stopping after the current tensor and removing the partial output (Ctrl-C again to quit now)");
			controller.abort();
		};
		process.on("SIGINT", onSigint);
		const renderer = createRenderer(io, { quiet: flags.quiet === true || flags.json === true, json: flags.json === true });
		let result: MergeResult;
		try {
			const gen = runMerge(plan, {
				out,
				force: flags.force === true,
				...(shardSize !== undefined ? { shardSize } : {}),
				backend,
				signal: controller.signal,
				...(flags.resume === true ? { resume: true } : {}),
				...(flags.threads !== undefined ? { threads: flags.threads } : {}),
			});
			for (;;) {
				const r = await gen.next();
				if (r.done === true) {
					result = r.value;
					break;
				}
				renderer.onEvent(r.value as MergeEvent);
			}
		} finally {
			renderer.stop();
			process.off("SIGINT", onSigint);
			await backend.dispose?.();
		}
		if (flags.json !== true && flags.quiet !== true) io.err(`done in ${result.seconds.toFixed(1)} s: ${result.tensors} tensors, ${formatBytes(result.bytes)}`);
		// From the merged tensors as written: the folder is complete (renamed into place) before the export reads it.
		const gguf = ggufTypes.length > 0
			? await runExports(io, result.out, ggufOutputs(ggufTypes, path.basename(result.out), undefined, result.out), { force: flags.force === true, quiet: flags.quiet === true || flags.json === true, ...(flags.threads !== undefined ? { threads: flags.threads } : {}) })
			: [];
		if (flags.json === true) {
			io.out(JSON.stringify({ ...result, method: plan.method.name, seed: plan.seed, models: plan.models.map((m) => ({ ref: m.ref, path: m.path })), ...(gguf.length > 0 ? { gguf } : {}) }));
		} else if (flags.quiet !== true) {
			io.out(result.out);
			for (const g of gguf) io.out(g.out);
		}
	} finally {
		await closePlan(plan);
	}
}
