import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Backend } from "../backends/types.js";
import { ExecError } from "../errors.js";
import { OutputFolder } from "../io/output-folder.js";
import { assertNoOverlap, assertSafeOutput, type GuardedInput } from "../io/output-guard.js";
import { BUILTIN_METHODS } from "../methods/registry.js";
import { jobMemory, MEMORY_BUDGET_BYTES } from "../plan/memory.js";
import type { MergePlan } from "../plan/types.js";
import { effectiveRecipeText } from "../recipe/effective-text.js";
import { VERSION } from "../version.js";
import { modelCard, tokenizerFiles } from "./copy-extras.js";
import type { MergeEvent, MergeResult } from "./events.js";
import { closeJobEnv, executeJob, type JobEnv, type JobResult, toJobSpec } from "./job.js";
import { WorkerPool } from "./pool.js";

/** How {@link runMerge} writes the output: folder, shard size, threads, memory, backend, resume, cancellation. */
export interface RunOptions {
	/** The output folder; it appears only when the merge is complete. */
	out: string;
	/** Replace an existing non-empty output folder. */
	force?: boolean;
	/** Largest shard in bytes (default 5 GB, as mergekit). */
	shardSize?: number;
	/** Kernel backend; a non-CPU backend runs in this thread. */
	backend?: Backend;
	/** Worker threads for kernels (default: the number of cores); 1 runs everything in this thread. */
	threads?: number;
	/** Bytes of tensor data the executor may hold at once (default: MEMORY_BUDGET_BYTES, or more for one huge tensor). */
	memoryBudget?: number;
	/** Elements per chunk for methods that stream large tensors (a tuning and testing knob). */
	chunkElements?: number;
	/** Bytes of input chunks each thread's multi-pass jobs may keep between passes (default HOLD_BYTES; a tuning and testing knob). */
	holdBytes?: number;
	/** Keep a partial output on failure or interrupt, and continue a matching one left by an earlier run. */
	resume?: boolean;
	/** Abort between tensors (Ctrl-C); the partial output is removed (kept with resume). */
	signal?: AbortSignal;
	/** Folders that may never be the output itself (the CLI passes its default output root, `./merged`). */
	protect?: readonly string[];
}

/** The recipe file an output folder keeps, under lm-merge's name and under mergekit's (which tools look for). */
const RECIPE_FILES = ["merge-recipe.yml", "mergekit_config.yml"] as const;

export const DEFAULT_SHARD_BYTES = 5_000_000_000;

/** Every input of a plan that the output must not overlap: each model's folder and files, and the tokenizer source. */
function planInputs(plan: MergePlan): GuardedInput[] {
	const inputs: GuardedInput[] = [];
	for (const m of plan.models) {
		inputs.push({ path: m.source.dir, label: `model ${m.ref}` });
		for (const f of [...m.source.files, ...(m.source.indexFile !== undefined ? [m.source.indexFile] : [])])
			inputs.push({ path: f, label: `model ${m.ref}` });
		if (m.adapter !== undefined) inputs.push({ path: m.adapter, label: `LoRA adapter of model ${m.ref}` });
	}
	if (plan.tokenizerDir !== undefined) inputs.push({ path: plan.tokenizerDir, label: "tokenizer source" });
	return inputs;
}

/**
 * Refuses an output that replacing could make destroy something (PlanError "UnsafeOutput": empty, `.`/`..`,
 * the working folder or a folder above it, a root, the home folder, a `protect`ed folder, a symlink) or that
 * overlaps an input in either direction, compared by real path and device + inode (PlanError
 * "OutputInsideInput"). runMerge checks this itself; call it to refuse early (e.g. before a dry run).
 */
export async function checkOutputPath(plan: MergePlan, out: string, opts: { protect?: readonly string[] } = {}): Promise<void> {
	const abs = await assertSafeOutput(out, opts);
	await assertNoOverlap(abs, planInputs(plan));
}

/** The recipe text that reproduces this plan's output, overrides included (see effectiveRecipeText). */
function savedRecipeText(plan: MergePlan): string {
	return effectiveRecipeText(plan.recipe, {
		seed: plan.seed,
		...(plan.outDtype !== undefined ? { outDtype: plan.outDtype } : {}),
		truncateVocab: plan.jobs.some((j) => j.truncate !== undefined),
		...(plan.compat !== undefined ? { compat: plan.compat } : {}),
	});
}

/** Identifies a merge for resume: recipe, seed, output layout, and the input files' sizes and times. */
async function fingerprint(plan: MergePlan, recipeText: string, shardSize: number): Promise<string> {
	const files: [string, number, number][] = [];
	for (const m of plan.models) {
		for (const f of m.source.files) {
			const s = await stat(f);
			files.push([f, s.size, s.mtimeMs]);
		}
	}
	const jobs = plan.jobs.map((j) => [j.output.name, j.output.dtype, j.output.shape]);
	return createHash("sha256")
		.update(
			JSON.stringify({
				v: VERSION,
				recipe: recipeText,
				seed: plan.seed,
				shardSize,
				jobs,
				files,
				...(plan.compat === "mergekit" ? { compat: plan.compat } : {}),
			}),
		)
		.digest("hex");
}

/**
 * Streams a plan to disk. Every shard is laid out up front, so each tensor is read, merged, encoded and
 * written at its final offset independently: by worker threads in parallel (a pool created once), or in
 * this thread with two jobs overlapping (one computing while the other reads or writes). A memory budget
 * bounds the data in flight; the output is byte-identical whatever the thread count.
 */
export async function* runMerge(plan: MergePlan, opts: RunOptions): AsyncGenerator<MergeEvent, MergeResult> {
	const started = performance.now();
	const shardSize = opts.shardSize ?? DEFAULT_SHARD_BYTES;
	const warnings = new Set<string>(plan.warnings);
	const recipeText = savedRecipeText(plan);
	const folder = await OutputFolder.create(
		opts.out,
		plan.jobs.map((j) => ({ name: j.output.name, dtype: j.output.dtype, shape: j.output.shape })),
		{
			maxShardBytes: shardSize,
			force: opts.force ?? false,
			inputs: planInputs(plan),
			...(opts.protect !== undefined ? { protect: opts.protect } : {}),
			metadata: {
				lm_merge_version: VERSION,
				merge_method: plan.method.name,
				recipe_sha256: createHash("sha256").update(recipeText).digest("hex"),
				seed: String(plan.seed),
				...(plan.compat === "mergekit" ? { lm_merge_compat: "mergekit" } : {}),
			},
			...(opts.resume === true ? { resume: { fingerprint: await fingerprint(plan, recipeText, shardSize) } } : {}),
		},
	);
	const builtin = BUILTIN_METHODS.includes(plan.method);
	const cpu = opts.backend === undefined || opts.backend.name === "cpu";
	const threads = Math.max(1, Math.floor(opts.threads ?? os.availableParallelism()));
	let pool: WorkerPool | undefined;
	const env: JobEnv = {
		models: plan.models.map((m) => m.source),
		method: () => plan.method,
		handles: new Map(),
		direct: new Map(),
		...(cpu ? {} : { backend: opts.backend! }),
		...(opts.chunkElements !== undefined ? { chunkElements: opts.chunkElements } : {}),
		...(opts.holdBytes !== undefined ? { holdBytes: opts.holdBytes } : {}),
	};
	let committed = false;
	let bookkeeping: Promise<void> = Promise.resolve();
	let bookkeepingError: unknown;
	const shardsDone: { file: string; bytes: number }[] = [];
	const inflight = new Map<number, { promise: Promise<JobResult>; bytes: number }>();
	try {
		yield { event: "planned", tensors: plan.jobs.length, shards: folder.shards.length, bytes: plan.totalBytes, out: opts.out };
		if (folder.done.size > 0)
			yield {
				event: "resumed",
				shards: folder.shards.filter((s) => s.tensors.every((t) => folder.done.has(t))).length,
				tensors: folder.done.size,
			};
		for (const w of plan.warnings) yield { event: "warning", message: w };
		const announced = new Set(plan.warnings);
		for (const note of folder.notes) {
			warnings.add(note);
			announced.add(note);
			yield { event: "warning", message: note };
		}
		// Shard by shard (so shards complete, and become resumable, one after another), largest tensors first within
		// a shard: the last jobs are small, so no core idles long at the end while another finishes a big one. Every
		// tensor goes to its own offset, so the order does not change the bytes.
		const shardOf = (i: number) => folder.target(plan.jobs[i]!.output.name).shard;
		const todo = plan.jobs
			.map((_, i) => i)
			.filter((i) => !folder.done.has(plan.jobs[i]!.output.name))
			.sort((a, b) => shardOf(a) - shardOf(b) || plan.jobs[b]!.output.byteLength - plan.jobs[a]!.output.byteLength || a - b);
		if (threads > 1 && builtin && cpu && todo.length > 1)
			pool = await WorkerPool.create(
				Math.min(threads, todo.length),
				plan.models.map((m) => ({ path: m.path, ...(m.adapter !== undefined ? { adapter: m.adapter } : {}) })),
				{
					...(opts.chunkElements !== undefined ? { chunkElements: opts.chunkElements } : {}),
					...(opts.holdBytes !== undefined ? { holdBytes: opts.holdBytes } : {}),
				},
			);
		const slots = pool?.capacity ?? 2;
		const largest = Math.max(0, ...todo.map((i) => jobMemory(plan.jobs[i]!)));
		const budget = Math.max(opts.memoryBudget ?? MEMORY_BUDGET_BYTES, largest);
		let doneBytes = plan.jobs.filter((j) => folder.done.has(j.output.name)).reduce((n, j) => n + j.output.byteLength, 0);
		let completed = folder.done.size;
		let used = 0;
		let next = 0;
		while (next < todo.length || inflight.size > 0) {
			if (bookkeepingError !== undefined) throw bookkeepingError;
			// Start jobs while a slot and the memory budget allow (always at least one).
			while (next < todo.length && inflight.size < slots && !opts.signal?.aborted) {
				const i = todo[next]!;
				const job = plan.jobs[i]!;
				const bytes = jobMemory(job);
				if (inflight.size > 0 && used + bytes > budget) break;
				const t = folder.target(job.output.name);
				const spec = toJobSpec(
					job,
					i,
					plan.seed,
					{ file: t.file, position: t.position, dtype: t.dtype, byteLength: t.byteLength },
					folder.hashing,
				);
				const promise = pool !== undefined ? pool.run(spec) : executeJob(spec, env);
				promise.catch(() => undefined);
				inflight.set(i, { promise, bytes });
				used += bytes;
				next++;
			}
			if (inflight.size === 0) break;
			const result = await Promise.race([...inflight.values()].map((f) => f.promise));
			used -= inflight.get(result.index)!.bytes;
			inflight.delete(result.index);
			for (const w of result.warnings) warnings.add(`${plan.method.name}: ${w}`);
			const job = plan.jobs[result.index]!;
			// A finished shard is fsynced (and its checksums saved) in the background, in completion order, while
			// the next jobs run; its event follows once that is done.
			bookkeeping = bookkeeping.then(async () => {
				const shard = await folder.tensorWritten(job.output.name, result.hash);
				if (shard !== undefined) shardsDone.push(shard);
			});
			bookkeeping.catch((err: unknown) => {
				bookkeepingError ??= err;
			});
			doneBytes += job.output.byteLength;
			completed++;
			yield {
				event: "tensor",
				name: job.output.name,
				index: completed - 1,
				total: plan.jobs.length,
				bytes: job.output.byteLength,
				doneBytes,
				totalBytes: plan.totalBytes,
			};
			for (const shard of shardsDone.splice(0)) yield { event: "shardWritten", path: shard.file, bytes: shard.bytes };
		}
		await bookkeeping;
		for (const shard of shardsDone.splice(0)) yield { event: "shardWritten", path: shard.file, bytes: shard.bytes };
		if (opts.signal?.aborted) {
			throw new ExecError(
				"Interrupted",
				opts.resume === true ? `merge interrupted; rerun with --resume to continue` : "merge interrupted; no output was written",
			);
		}
		await closeJobEnv(env);
		const title = path.basename(path.resolve(opts.out));
		if (plan.config !== undefined) await folder.writeFile("config.json", `${JSON.stringify(plan.config, null, 2)}\n`);
		for (const [name, data] of await tokenizerFiles(plan)) await folder.writeFile(name, data);
		await folder.writeFile("README.md", modelCard(plan, title, VERSION, recipeText));
		for (const name of RECIPE_FILES) await folder.writeFile(name, recipeText);
		const notesBefore = folder.notes.length;
		await folder.commit();
		committed = true;
		for (const note of folder.notes.slice(notesBefore)) warnings.add(note);
		for (const w of warnings) if (!announced.has(w)) yield { event: "warning", message: w };
		const seconds = (performance.now() - started) / 1000;
		yield { event: "done", out: opts.out, seconds, bytes: plan.totalBytes };
		return { out: opts.out, files: folder.files, tensors: plan.jobs.length, bytes: plan.totalBytes, seconds, warnings: [...warnings] };
	} finally {
		// Also reached when the consumer stops iterating early: never leave a half-written output behind.
		await Promise.all([...inflight.values()].map((f) => f.promise.catch(() => undefined)));
		await bookkeeping.catch(() => undefined);
		await pool?.close();
		await closeJobEnv(env);
		if (!committed) await folder.close(opts.resume === true);
	}
}

/** Drains runMerge() and returns its result; `onEvent` sees every progress event. */
export async function drainMerge(gen: AsyncGenerator<MergeEvent, MergeResult>, onEvent?: (e: MergeEvent) => void): Promise<MergeResult> {
	for (;;) {
		const r = await gen.next();
		if (r.done === true) return r.value;
		onEvent?.(r.value);
	}
}
