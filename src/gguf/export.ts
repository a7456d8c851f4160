/**
 * Model folder → GGUF file for llama.cpp's `llama` architecture. Every check that needs only config.json,
 * the tokenizer and the safetensors headers runs first; then each tensor is read once in row chunks,
 * permuted (q/k), encoded and appended to a temporary file that is renamed into place when complete.
 */
import { basename } from "node:path";
import { ExecError } from "../errors.js";
import { openModel } from "../model/model-dir.js";
import type { ModelSource } from "../model/model-source.js";
import { resolveModelRef, type ResolveOptions } from "../model/refs.js";
import { GGML_QUANTIZATION_VERSION, GGML_TYPES, type GgmlType } from "./constants.js";
import { encodeRows } from "./encode.js";
import { defaultEncodeThreads, EncodePool } from "./encode-pool.js";
import { planExport, type ExportPlan, type PlannedTensor } from "./export-plan.js";
import { layoutGguf } from "./layout.js";
import { gguf, type GgufMetadata } from "./metadata.js";
import { fileTypeOf, type GgufExportType } from "./mix.js";
import { permuteRotaryRows } from "./names.js";
import { vocabMetadata } from "./vocab.js";
import { GgufWriter } from "./writer.js";
import { llamaMetadata } from "./llama-metadata.js";

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
}

export type ExportEvent =
	| { event: "planned"; out: string; type: GgufExportType; tensors: number; readBytes: number; bytes: number; types: Partial<Record<GgmlType, number>> }
	| { event: "tensor"; name: string; ggufName: string; ggmlType: GgmlType; index: number; total: number; doneBytes: number; totalBytes: number }
	| { event: "warning"; message: string }
	| { event: "done"; out: string; bytes: number; seconds: number };

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

/** Values per encode chunk (4 Mi floats = 16 MB of float32): large enough to amortize calls, small next to RAM. */
export const CHUNK_VALUES = 4 * 2 ** 20;

/** Opens `model` (a path or any model reference) unless it already is an open ModelSource. */
async function openSource(model: string | ModelSource, opts: ExportGgufOptions): Promise<{ source: ModelSource; name: string; owned: boolean }> {
	if (typeof model !== "string") return { source: model, name: opts.name ?? basename(model.dir), owned: false };
	const resolved = await resolveModelRef(model, opts.resolve);
	const source = await openModel(resolved.path);
	return { source, name: opts.name ?? resolved.repoId ?? basename(source.dir), owned: true };
}

/** The GGUF metadata of a plan, in llama.cpp's converter order. */
export function exportMetadata(plan: ExportPlan, name: string, type: GgufExportType): GgufMetadata {
	const meta: GgufMetadata = new Map(llamaMetadata(plan.config, name, fileTypeOf(type)));
	if (plan.tensors.some((t) => GGML_TYPES[t.ggmlType].block > 1)) meta.set("general.quantization_version", gguf.u32(GGML_QUANTIZATION_VERSION));
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
		const layout = layoutGguf(exportMetadata(plan, name, opts.type), plan.tensors.map((t) => ({ name: t.ggufName, dims: t.dims, type: t.ggmlType })), opts.out);
		const types: Partial<Record<GgmlType, number>> = {};
		for (const t of plan.tensors) types[t.ggmlType] = (types[t.ggmlType] ?? 0) + 1;
		const totalBytes = layout.fileSize;
		yield { event: "planned", out: opts.out, type: opts.type, tensors: plan.tensors.length, readBytes: plan.readBytes, bytes: totalBytes, types };
		const writer = await GgufWriter.create(opts.out, layout, { force: opts.force ?? false });
		const pool = new EncodePool(opts.threads ?? defaultEncodeThreads());
		let committed = false;
		try {
			// Chunks in flight, in file order: each is written once its encoding is done. Up to threads + 1 are
			// queued so every worker stays busy while the main thread reads the next chunk and writes the oldest.
			const queue: Array<{ t: PlannedTensor; index: number; last: boolean; bytes: Promise<Uint8Array> }> = [];
			const depth = pool.threads + 1;
			let done = layout.dataStart;
			const drainOne = async (): Promise<ExportEvent | undefined> => {
				const head = queue.shift()!;
				const bytes = await head.bytes;
				await writer.write(head.t.ggufName, bytes);
				done += bytes.byteLength;
				if (!head.last) return undefined;
				return { event: "tensor", name: head.t.name, ggufName: head.t.ggufName, ggmlType: head.t.ggmlType, index: head.index, total: plan.tensors.length, doneBytes: done, totalBytes };
			};
			for (const [index, t] of plan.tensors.entries()) {
				const inline = GGML_TYPES[t.ggmlType].block === 1;
				for await (const { data, last } of tensorChunks(source, t, plan, opts.signal)) {
					const bytes = inline ? Promise.resolve(encodeRows(t.ggmlType, data)) : pool.encode(t.ggmlType, data);
					bytes.catch(() => undefined);
					queue.push({ t, index, last, bytes });
					while (queue.length > depth) {
						const e = await drainOne();
						if (e !== undefined) yield e;
					}
				}
			}
			while (queue.length > 0) {
				const e = await drainOne();
				if (e !== undefined) yield e;
			}
			await writer.commit();
			committed = true;
		} finally {
			// An error, or a consumer that stopped iterating: no partial file stays behind.
			if (!committed) await writer.abort();
			await pool.close();
		}
		const seconds = (performance.now() - started) / 1000;
		yield { event: "done", out: writer.out, bytes: totalBytes, seconds };
		return { out: writer.out, type: opts.type, bytes: totalBytes, tensors: plan.tensors.length, readBytes: plan.readBytes, seconds, types };
	} finally {
		if (owned) await source.close();
	}
}

/** Drains exportGgufIter, passing each event to `onEvent`. */
export async function exportGguf(model: string | ModelSource, opts: ExportGgufOptions & { onEvent?: (e: ExportEvent) => void }): Promise<ExportGgufResult> {
	const gen = exportGgufIter(model, opts);
	for (;;) {
		const r = await gen.next();
		if (r.done === true) return r.value;
		opts.onEvent?.(r.value);
	}
}

/**
 * One tensor's float32 values, chunk by chunk: whole rows (whole heads for q/k, so the permutation stays
 * inside a chunk), permuted for llama.cpp where needed. The next chunk is read while the caller works.
 */
async function* tensorChunks(source: ModelSource, t: PlannedTensor, plan: ExportPlan, signal: AbortSignal | undefined): AsyncGenerator<{ data: Float32Array; last: boolean }> {
	if (t.dims.length === 1) {
		// A vector (norm weights): small, read whole (readRows would count its elements as rows).
		yield { data: (await source.read(t.name)).data, last: true };
		return;
	}
	const rows = t.dims.slice(1).reduce((a, d) => a * d, 1);
	const cols = t.dims[0]!;
	const unit = t.rotary !== undefined ? plan.config.headDim : 1;
	const rowsPerChunk = Math.max(unit, Math.floor(CHUNK_VALUES / cols / unit) * unit);
	const read = (start: number) => source.readRows(t.name, start, Math.min(rows, start + rowsPerChunk));
	let next = read(0);
	for (let start = 0; start < rows; start += rowsPerChunk) {
		if (signal?.aborted === true) {
			next.catch(() => undefined);
			throw new ExecError("Interrupted", `${plan.location}: export interrupted at tensor "${t.name}"`);
		}
		const chunk = await next;
		const last = start + rowsPerChunk >= rows;
		if (!last) next = read(start + rowsPerChunk);
		const data = t.rotary !== undefined ? permuteRotaryRows(chunk.data, cols, plan.config.headDim) : chunk.data;
		yield { data, last };
	}
}
