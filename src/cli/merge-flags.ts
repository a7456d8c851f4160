import path from "node:path";
import type { Argv } from "yargs";
import { PlanError, UsageError } from "../errors.js";
import type { MergeEvent, MergeResult } from "../exec/events.js";
import { checkOutputPath, runMerge } from "../exec/run.js";
import { parseDtypeName } from "../io/dtypes.js";
import { parseSize } from "../io/layout.js";
import { assertSafeOutput } from "../io/output-guard.js";
import { buildPlan, closePlan } from "../plan/plan.js";
import type { Recipe } from "../recipe/schema.js";
import { selectBackend } from "./backend.js";
import { runUpload } from "./commands/upload.js";
import { describePlan } from "./describe-plan.js";
import { resolveMergeDevice } from "./device.js";
import { ggufOutputs, parseGgufTypes, runExports } from "./gguf-export.js";
import { createDownloadRenderer } from "./hub-render.js";
import { formatBytes, type Io } from "./output.js";
import { createRenderer } from "./render.js";

/** Flags shared by `merge run` and the quick method commands. */
export interface MergeFlags {
	out?: string;
	force?: boolean;
	dtype?: string;
	seed?: number;
	threads?: number;
	device?: string;
	backend?: string;
	cuda?: boolean;
	"allow-crimes"?: boolean;
	"shard-size"?: string;
	json?: boolean;
	quiet?: boolean;
	"truncate-vocab"?: boolean;
	"dry-run"?: boolean;
	resume?: boolean;
	compat?: string;
	offline?: boolean;
	refresh?: boolean;
	"push-to-hub"?: string;
	private?: boolean;
	gguf?: string[];
}

export function withMergeFlags<T>(y: Argv<T>): Argv<T & MergeFlags> {
	return y
		.option("out", { alias: "o", type: "string", description: "Output folder (default: a descriptive folder under ./merged)" })
		.option("force", { type: "boolean", description: "Replace an existing non-empty output folder" })
		.option("dtype", {
			type: "string",
			description: "Output dtype: bfloat16 | float16 | float32 (default: the recipe's, else the inputs')",
		})
		.option("seed", { type: "number", description: "Seed for random methods (DARE, DELLA); default: the recipe's, else 0" })
		.option("threads", { type: "number", description: "Kernel threads (default: number of cores)" })
		.option("device", {
			type: "string",
			description: "Hardware the kernels run on: auto (the CPU), cpu, cuda (alias gpu) or vulkan [default: auto]",
		})
		.option("backend", {
			type: "string",
			description:
				"Kernel implementation: builtin (lm-merge's kernels, CPU), tfjs, " +
				"or a pinned tfjs engine: tfjs-wasm, tfjs-node, tfjs-cpu [default: builtin; tfjs for cuda]",
		})
		.option("cuda", { type: "boolean", description: "Same as --device cuda (mergekit's flag)" })
		.option("allow-crimes", {
			alias: "allow-architecture-mismatch",
			type: "boolean",
			description: "Merge models whose config.json names different architectures (mergekit's flag)",
		})
		.option("shard-size", { type: "string", description: "Largest output shard, e.g. 5GB, 500MB, 2GiB (default 5GB)" })
		.option("json", { type: "boolean", description: "Print a machine-readable summary on stdout" })
		.option("quiet", { alias: "q", type: "boolean", description: "No progress output" })
		.option("truncate-vocab", {
			type: "boolean",
			description: "Merge embeddings of different vocab sizes on their common sub-matrix (mergekit's behaviour)",
		})
		.option("dry-run", { type: "boolean", description: "Plan and validate everything, print the plan, read no tensor data" })
		.option("resume", { type: "boolean", description: "Continue an interrupted merge from its verified shards" })
		.option("compat", COMPAT_OPTION)
		.option("offline", { type: "boolean", description: "Never contact the Hub: repo ids must be in the cache (also HF_HUB_OFFLINE=1)" })
		.option("refresh", { type: "boolean", description: "Ask the Hub where a cached branch points now, and download what changed" })
		.option("push-to-hub", { type: "string", description: "After the merge, upload the output folder to this Hub repo (org/name)" })
		.option("private", { type: "boolean", description: "With --push-to-hub: create the repo private" })
		.option("gguf", {
			type: "string",
			array: true,
			description: "Also write <out>/<name>-<type>.gguf for llama.cpp after the merge, e.g. --gguf q8_0,q4_k_m",
		}) as Argv<T & MergeFlags>;
}

/** `--compat`: the arithmetic (shared by `merge run`, `merge plan` and the quick commands). */
export const COMPAT_OPTION = {
	type: "string",
	choices: ["float32", "mergekit"],
	description:
		"Arithmetic: float32 (default: float32 math, one rounding) or mergekit " +
		"(mergekit's op-by-op rounding in the recipe dtype, to reproduce its outputs); overrides the recipe's compat",
} as const;

/** Where outputs go when --out is not given; the folder itself is never an output (--force would empty it). */
const DEFAULT_OUT_ROOT = "merged";

/**
 * A folder name that says what was merged: merged/slerp-biomistral-mistral-t0.5. Leading dots are dropped, so a
 * recipe named `..yml` or `...yml` cannot name `merged/.` or `merged/..`; an empty name becomes the method's.
 */
function defaultOutDir(recipe: Recipe, hint: string): string {
	const slug = hint
		.replace(/[^A-Za-z0-9._-]+/g, "-")
		.replace(/^[-.]+|-+$/g, "")
		.slice(0, 120);
	return path.join(DEFAULT_OUT_ROOT, slug.length > 0 ? slug : recipe.mergeMethod);
}

/** Folders the CLI never writes an output to, besides the library's own rules. */
function protectedDirs(): string[] {
	return [path.resolve(DEFAULT_OUT_ROOT)];
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
	const protect = protectedDirs();
	if (flags.out !== undefined) {
		// A dangerous --out is a usage error, refused before any model is opened (runMerge checks again).
		await assertSafeOutput(flags.out, { protect }).catch((err: unknown) => {
			throw err instanceof PlanError && err.kind === "UnsafeOutput" ? new UsageError(`--out: ${err.message}`) : err;
		});
	}
	if (flags.private === true && flags["push-to-hub"] === undefined) throw new UsageError("--private only applies with --push-to-hub REPO");
	if (flags["push-to-hub"] !== undefined && flags.offline === true) throw new UsageError("--push-to-hub cannot upload with --offline");
	const downloads = createDownloadRenderer(io, { quiet: flags.quiet === true || flags.json === true });
	const device = resolveMergeDevice(flags);
	for (const notice of device.notices) io.err(`warning: ${notice}`);
	// Checked before the merge runs, so a typo does not cost a whole merge.
	const ggufTypes = flags.gguf !== undefined ? parseGgufTypes(flags.gguf, "--gguf") : [];
	const plan = await buildPlan(recipe, {
		hub: {
			...(flags.offline === true ? { offline: true } : {}),
			...(flags.refresh === true ? { refresh: true } : {}),
			onDownload: (e) => downloads.onEvent(e),
		},
		...(flags["allow-crimes"] === true ? { allowArchitectureMismatch: true } : {}),
		...(dtype !== undefined ? { dtype } : {}),
		...(flags.seed !== undefined ? { seed: flags.seed } : {}),
		...(flags["truncate-vocab"] === true ? { truncateVocab: true } : {}),
		...(flags.threads !== undefined ? { threads: flags.threads } : {}),
		...(flags.compat !== undefined ? { compat: flags.compat as "float32" | "mergekit" } : {}),
	});
	const out = flags.out ?? defaultOutDir(recipe, outHint);
	if (plan.compat === "mergekit" && flags.device !== undefined && flags.device !== "cpu") {
		plan.warnings.push(`--device ${flags.device} is not used: compat: mergekit runs its TypeScript arithmetic on the CPU`);
	}
	try {
		await checkOutputPath(plan, out, { protect });
		if (flags["dry-run"] === true) {
			describePlan(io, plan, { json: flags.json === true, out, shardSize });
			return;
		}
		const backend = await selectBackend(device);
		const controller = new AbortController();
		let interrupts = 0;
		const onSigint = () => {
			interrupts++;
			if (interrupts > 1) process.exit(130);
			const partial = flags.resume === true ? "keeping the partial output for --resume" : "removing the partial output";
			io.err(`interrupt: stopping after the current tensor and ${partial} (Ctrl-C again to quit now)`);
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
				protect,
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
		if (flags.json !== true && flags.quiet !== true)
			io.err(`done in ${result.seconds.toFixed(1)} s: ${result.tensors} tensors, ${formatBytes(result.bytes)}`);
		// From the merged tensors as written: the folder is complete (renamed into place) before the export reads it.
		const gguf =
			ggufTypes.length > 0
				? await runExports(io, result.out, ggufOutputs(ggufTypes, path.basename(result.out), undefined, result.out), {
						force: flags.force === true,
						quiet: flags.quiet === true || flags.json === true,
						...(flags.threads !== undefined ? { threads: flags.threads } : {}),
					})
				: [];
		const pushTo = flags["push-to-hub"];
		const pushed =
			pushTo !== undefined
				? await runUpload(io, result.out, pushTo, {
						...(flags.private === true ? { private: true } : {}),
						quiet: flags.quiet === true || flags.json === true,
					})
				: undefined;
		if (flags.json === true) {
			const upload = pushed !== undefined ? { upload: { repo: pushed.repo, commit: pushed.commit, url: pushed.url } } : {};
			io.out(
				JSON.stringify({
					...result,
					method: plan.method.name,
					seed: plan.seed,
					models: plan.models.map((m) => ({ ref: m.ref, path: m.path })),
					...upload,
					...(gguf.length > 0 ? { gguf } : {}),
				}),
			);
		} else if (flags.quiet !== true) {
			io.out(result.out);
			for (const g of gguf) io.out(g.out);
		}
	} finally {
		await closePlan(plan);
	}
}
