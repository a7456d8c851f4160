/**
 * Where the export's chunks run: on the calling thread (one ChunkPipeline) or on a pool of worker threads, each
 * with its own pipeline and WebAssembly arena, reading the source files and writing the temporary output file
 * itself, so no chunk's bytes cross threads. Chunks go to the least busy worker, at most two per worker at a time
 * (one encoding, one reading); the bytes of a chunk do not depend on which thread encoded it.
 */
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { ExecError, GgufError, LmMergeError, SafetensorsError } from "../errors.js";
import type { TensorSource } from "../io/types.js";
import { wasmArena } from "../wasm/kernels.js";
import { startWorkerScript } from "../worker-script.js";
import { type ChunkOutput, ChunkPipeline, closeChunkOutput, openChunkOutput } from "./chunk-pipeline.js";
import type { ChunkWorkerData } from "./encode-worker.js";
import type { ExportChunk } from "./export-chunks.js";

/** Threads when the caller does not say: every core the system reports. */
export function defaultEncodeThreads(): number {
	return Math.max(1, availableParallelism());
}

/** Chunks a worker holds at once: the one it encodes and the next, whose read is in flight meanwhile. */
export const CHUNKS_PER_WORKER = 2;

export interface ChunkExecutor {
	readonly threads: number;
	/** Reads, encodes and writes `chunk` at its place; resolves when its bytes are written. */
	submit(chunk: ExportChunk): Promise<void>;
	/**
	 * Waits for the writes in flight and releases threads, handles and buffers; with `abort`, stops at once (the
	 * caller then removes the output).
	 */
	close(abort?: boolean): Promise<void>;
}

/** The chunks on the calling thread, read through `source` (direct reads when it offers them). */
export class LocalChunks implements ChunkExecutor {
	readonly threads = 1;
	private constructor(
		private readonly pipeline: ChunkPipeline,
		private readonly output: ChunkOutput,
	) {}

	static async open(source: TensorSource, out: string, maxIn: number, maxOut: number): Promise<LocalChunks> {
		const output = await openChunkOutput(out);
		const read = async (c: ExportChunk, scratch: Uint8Array) => {
			if (source.readRawAligned !== undefined) return source.readRawAligned(c.name, c.start, c.end, scratch);
			const into = scratch.subarray(0, c.end - c.start);
			const got = await source.readRaw(c.name, c.start, c.end, into);
			if (got !== into) into.set(got);
			return into;
		};
		return new LocalChunks(new ChunkPipeline(wasmArena(), read, output, maxIn, maxOut), output);
	}

	submit(chunk: ExportChunk): Promise<void> {
		return this.pipeline.submit(chunk);
	}

	async close(abort = false): Promise<void> {
		await this.pipeline.close(abort);
		await closeChunkOutput(this.output);
	}
}

/** An encode worker thread (encode-worker.ts / .js beside this file). */
function spawnWorker(data: ChunkWorkerData): Worker {
	return startWorkerScript(import.meta.url, "encode-worker", data);
}

const ERROR_CLASSES: Record<string, { prototype: LmMergeError }> = { SafetensorsError, GgufError, ExecError, LmMergeError };

/** An error thrown in a worker, rebuilt as the same class and kind (so the CLI reports it the same way). */
function reviveError(e: { name?: string; message: string; kind?: string; stack?: string }): Error {
	const cls = e.name !== undefined ? ERROR_CLASSES[e.name] : undefined;
	if (cls === undefined) return new ExecError("Backend", `export worker: ${e.message}`);
	const err = Object.create(cls.prototype as object) as Error & { kind?: string };
	Object.defineProperty(err, "message", { value: e.message, enumerable: false, writable: true });
	Object.defineProperty(err, "exitCode", { value: 1, enumerable: false });
	err.name = e.name!;
	if (e.kind !== undefined) err.kind = e.kind;
	if (e.stack !== undefined) err.stack = e.stack;
	return err;
}

interface Pending {
	resolve(): void;
	reject(e: Error): void;
}

interface Slot {
	worker: Worker;
	pending: Map<number, Pending>;
	exited: boolean;
}

/** The chunks on `threads` worker threads. */
export class ChunkPool implements ChunkExecutor {
	private readonly slots: Slot[] = [];
	private readonly waiting: Array<{ chunk: ExportChunk; id: number }> = [];
	private readonly pending = new Map<number, Pending>();
	private nextId = 0;
	private failure: Error | undefined;

	constructor(
		readonly threads: number,
		data: ChunkWorkerData,
	) {
		for (let i = 0; i < threads; i++) {
			const slot: Slot = { worker: spawnWorker(data), pending: new Map(), exited: false };
			slot.worker.on(
				"message",
				(m: { type: string; id?: number; error?: { name?: string; message: string; kind?: string; stack?: string } }) => {
					if (m.id === undefined) return;
					const p = slot.pending.get(m.id);
					slot.pending.delete(m.id);
					if (m.type === "done") p?.resolve();
					else p?.reject(reviveError(m.error ?? { message: "no result" }));
					this.dispatch();
				},
			);
			slot.worker.on("error", (err) => this.fail(err));
			slot.worker.on("exit", (code) => {
				slot.exited = true;
				if (code !== 0) this.fail(new Error(`exited with code ${code}`));
			});
			this.slots.push(slot);
		}
	}

	submit(chunk: ExportChunk): Promise<void> {
		if (this.failure !== undefined) return Promise.reject(this.failure);
		const id = this.nextId++;
		return new Promise<void>((resolve, reject) => {
			this.pending.set(id, { resolve, reject });
			this.waiting.push({ chunk, id });
			this.dispatch();
		});
	}

	/** Hands waiting chunks to the least busy workers that have room. */
	private dispatch(): void {
		while (this.waiting.length > 0 && this.failure === undefined) {
			let slot: Slot | undefined;
			for (const s of this.slots)
				if (s.pending.size < CHUNKS_PER_WORKER && (slot === undefined || s.pending.size < slot.pending.size)) slot = s;
			if (slot === undefined) return;
			const { chunk, id } = this.waiting.shift()!;
			slot.pending.set(id, this.pending.get(id)!);
			this.pending.delete(id);
			slot.worker.postMessage({ type: "chunk", id, chunk });
		}
	}

	private fail(err: Error): void {
		this.failure ??= err instanceof LmMergeError ? err : new ExecError("Backend", `export worker failed: ${err.message}`, { cause: err });
		const all = [...this.pending.values(), ...this.slots.flatMap((s) => [...s.pending.values()])];
		this.pending.clear();
		this.waiting.length = 0;
		for (const s of this.slots) s.pending.clear();
		for (const p of all) p.reject(this.failure);
	}

	async close(abort = false): Promise<void> {
		await Promise.all(
			this.slots.map(async (slot) => {
				// A clean close lets the worker finish its writes and close its files; an abort (or a dead worker) does not wait.
				if (!abort && !slot.exited) {
					await new Promise<void>((resolve) => {
						slot.worker.on("message", (m: { type: string }) => m.type === "closed" && resolve());
						slot.worker.once("exit", () => resolve());
						slot.worker.postMessage({ type: "close" });
					});
				}
				await slot.worker.terminate();
			}),
		);
		this.slots.length = 0;
	}
}
