/**
 * Model folder → GGUF file for llama.cpp's `llama` architecture. Every check that needs only config.json,
 * the tokenizer and the safetensors headers runs first; then each tensor is read once in row chunks, which
 * worker threads read, permute (q/k), encode and write at their final place in a temporary file that is
 * renamed into place when complete.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { ExecError, GgufError } from "../errors.js";
import { openModel } from "../model/model-dir.js";
import type { ModelSource } from "../model/model-source.js";
import { type ResolveOptions, resolveModelRef } from "../model/refs.js";
import { GGML_QUANTIZATION_VERSION, GGML_TYPES, type GgmlType } from "./constants.js";
import { CHUNKS_PER_WORKER, type ChunkExecutor, ChunkPool, defaultEncodeThreads, LocalChunks } from "./encode-pool.js";
import { planChunks } from "./export-chunks.js";
import { type ExportPlan, planExport } from "./export-plan.js";
import { layoutGguf } from "./layout.js";
import { llamaMetadata } from "./llama-metadata.js";
import { type GgufMetadata, gguf } from "./metadata.js";
import { fileTypeOf, type GgufExportType } from "./mix.js";
import { vocabMetadata } from "./vocab.js";
import { GgufWriter } from "./writer.js";

/** Options of {@link exportGguf}: the type and file to write, and how the export runs. */
export interface ExportGgufOptions {
	/** What to write: f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m or q6_k. */
	type: GgufExportType;
	/** The .gguf file to write. */
	out: string;
	/** Replace an existing file at `out`. */
	force?: boolean;
	/** `general.name` (default: the repo id, else the folder name). */
	name?: string;
	/** Stops the export between chunks; the temporary file is removed. */
	signal?: AbortSignal;
	/** How model references resolve (paths, aliases, the Hugging Face cache). */
	resolve?: ResolveOptions;
	/** Threads that quantize (default: every core); 1 encodes on the calling thread. */
	threads?: number;
	/** Values per chunk of work (default CHUNK_VALUES, 4 Mi); smaller splits tensors into more chunks (tests). */
	chunkValues?: number;
}

/** Progress of an export: the plan (tensor count, sizes, the ggml type mix), each tensor, warnings, the end. */
export type ExportEvent =
	| {
			event: "planned";
			out: string;
			type: GgufExportType;
			tensors: number;
			readBytes: number;
			bytes: number;
			types: Partial<Record<GgmlType, number>>;
	  }
	| {
			event: "tensor";
			name: string;
			ggufName: string;
			ggmlType: GgmlType;
			index: number;
			total: number;
			doneBytes: number;
			totalBytes: number;
	  }
	| { event: "warning"; message: string }
	| { event: "done"; out: string; bytes: number; seconds: number };

/** What {@link exportGguf} wrote: the file, its type and size, and how long it took. */
export interface ExportGgufResult {
	out: string;
	type: GgufExportType;
	/** Size of the written file. */
	bytes: number;
	tensors: number;
	/** Bytes of tensor data read from the source. */
	readBytes: number;
	seconds: number;
	/** How many tensors got each ggml type. */
	types: Partial<Record<GgmlType, number>>;
}

/** Opens `model` (a path or any model reference) unless it already is an open ModelSource. */
async function openSource(
	model: string | ModelSource,
	opts: ExportGgufOptions,
): Promise<{ source: ModelSource; name: string; owned: boolean }> {
	if (typeof model !== "string") return { source: model, name: opts.name ?? basename(model.dir), owned: false };
	const resolved = await resolveModelRef(model, opts.resolve);
	const source = await openModel(resolved.path);
	return { source, name: opts.name ?? resolved.repoId ?? basename(source.dir), owned: true };
}

/**
 * Refuses an output that is one of the files the export reads or sits beside in the model folder (compared by
 * device and inode, so a Hugging Face cache symlink counts as its blob): with --force the finished GGUF would be
 * renamed over it. A new file inside the model folder (`merge run --gguf`) is fine.
 */
async function assertNotAnInput(out: string, source: ModelSource): Promise<void> {
	const target = await stat(out).catch(() => undefined);
	if (target === undefined) return;
	const beside = await readdir(source.dir).then(
		(names) => names.map((n) => join(source.dir, n)),
		() => [] as string[],
	);
	for (const file of [...source.files, ...(source.indexFile !== undefined ? [source.indexFile] : []), ...beside]) {
		const s = await stat(file).catch(() => undefined);
		if (s?.isFile() && s.dev === target.dev && s.ino === target.ino) {
			throw new GgufError("OutputExists", out, `is a file of the model being exported (${file}); choose another --out`);
		}
	}
}

/** The GGUF metadata of a plan, in llama.cpp's converter order. */
function exportMetadata(plan: ExportPlan, name: string, type: GgufExportType): GgufMetadata {
	const meta: GgufMetadata = new Map(llamaMetadata(plan.config, name, fileTypeOf(type)));
	if (plan.tensors.some((t) => GGML_TYPES[t.ggmlType].block > 1))
		meta.set("general.quantization_version", gguf.u32(GGML_QUANTIZATION_VERSION));
	for (const [k, v] of vocabMetadata(plan.vocab)) meta.set(k, v);
	return meta;
}

/**
 * Exports a model to GGUF, yielding progress events; returns what was written. The model is a folder, a
 * safetensors file, an alias or a Hugging Face cache id (or an open ModelSource, which stays open).
 */
export async function* exportGgufIter(model: string | ModelSource, opts: ExportGgufOptions): AsyncGenerator<ExportEvent, ExportGgufResult> {
	const started = performance.now();
	const { source, name, owned } = await openSource(model, opts);
	try {
		const plan = await planExport(source, opts.type);
		for (const message of plan.warnings) yield { event: "warning", message };
		const layout = layoutGguf(
			exportMetadata(plan, name, opts.type),
			plan.tensors.map((t) => ({ name: t.ggufName, dims: t.dims, type: t.ggmlType })),
			opts.out,
		);
		const types: Partial<Record<GgmlType, number>> = {};
		for (const t of plan.tensors) types[t.ggmlType] = (types[t.ggmlType] ?? 0) + 1;
		const totalBytes = layout.fileSize;
		yield {
			event: "planned",
			out: opts.out,
			type: opts.type,
			tensors: plan.tensors.length,
			readBytes: plan.readBytes,
			bytes: totalBytes,
			types,
		};
		const chunks = planChunks(source, plan, layout, opts.chunkValues);
		await assertNotAnInput(opts.out, source);
		const writer = await GgufWriter.create(opts.out, layout, { force: opts.force ?? false });
		let exec: ChunkExecutor | undefined;
		let committed = false;
		try {
			const threads = opts.threads ?? defaultEncodeThreads();
			const maxIn = chunks.reduce((m, c) => Math.max(m, c.end - c.start), 0);
			const maxOut = chunks.reduce((m, c) => Math.max(m, c.bytes), 0);
			exec =
				threads > 1
					? new ChunkPool(threads, { out: writer.tempFile, maxIn, maxOut })
					: await LocalChunks.open(source, writer.tempFile, maxIn, maxOut);
			// Chunks are handed out in file order, at most CHUNKS_PER_WORKER per thread at a time; each is written at its
			// place by the thread that encoded it. A tensor is reported (and recorded by the writer) once all of its chunks
			// and those of every tensor before it are written.
			const left = plan.tensors.map(() => 0);
			for (const c of chunks) left[c.tensor]!++;
			let reported = 0;
			let inFlight = 0;
			let failure: { error: unknown } | undefined;
			let wake: (() => void) | undefined;
			const finished = function* (): Generator<ExportEvent> {
				while (reported < plan.tensors.length && left[reported] === 0) {
					const t = plan.tensors[reported]!;
					writer.markWritten(t.ggufName);
					const placed = layout.tensors[reported]!;
					yield {
						event: "tensor",
						name: t.name,
						ggufName: t.ggufName,
						ggmlType: t.ggmlType,
						index: reported,
						total: plan.tensors.length,
						doneBytes: layout.dataStart + placed.offset + placed.byteLength,
						totalBytes,
					};
					reported++;
				}
			};
			const settle = async function* (limit: number): AsyncGenerator<ExportEvent> {
				while (inFlight > limit && failure === undefined) {
					await new Promise<void>((resolve) => (wake = resolve));
					yield* finished();
				}
			};
			const limit = exec.threads * CHUNKS_PER_WORKER;
			for (const chunk of chunks) {
				yield* settle(limit - 1);
				if (failure !== undefined) break;
				if (opts.signal?.aborted === true)
					throw new ExecError("Interrupted", `${plan.location}: export interrupted at tensor "${chunk.name}"`);
				inFlight++;
				exec.submit(chunk).then(
					() => {
						inFlight--;
						left[chunk.tensor]!--;
						wake?.();
					},
					(error: unknown) => {
						inFlight--;
						failure ??= { error };
						wake?.();
					},
				);
			}
			yield* settle(0);
			if (failure !== undefined) throw failure.error;
			yield* finished();
			const closing = exec;
			exec = undefined;
			await closing.close();
			await writer.commit();
			committed = true;
		} finally {
			// An error, or a consumer that stopped iterating: stop the threads; no partial file stays behind.
			await exec?.close(true);
			if (!committed) await writer.abort();
		}
		const seconds = (performance.now() - started) / 1000;
		yield { event: "done", out: writer.out, bytes: totalBytes, seconds };
		return { out: writer.out, type: opts.type, bytes: totalBytes, tensors: plan.tensors.length, readBytes: plan.readBytes, seconds, types };
	} finally {
		if (owned) await source.close();
	}
}

/** Drains exportGgufIter, passing each event to `onEvent`. */
export async function exportGguf(
	model: string | ModelSource,
	opts: ExportGgufOptions & { onEvent?: (e: ExportEvent) => void },
): Promise<ExportGgufResult> {
	const gen = exportGgufIter(model, opts);
	for (;;) {
		const r = await gen.next();
		if (r.done === true) return r.value;
		opts.onEvent?.(r.value);
	}
}
