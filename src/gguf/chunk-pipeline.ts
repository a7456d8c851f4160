/**
 * One thread's share of an export: chunks arrive in file order and each is read, encoded and written at its final
 * place in the output file. The next chunk's read is in flight while one is encoded, and a chunk's write overlaps
 * the next one's encoding: two read buffers and two output buffers, page-aligned (in the WebAssembly arena's heap
 * when it has room), so reads and the whole pages of each write bypass the page cache (O_DIRECT) where the file
 * system allows, as the merge's streamed jobs do. Memory: those four buffers, whatever the model size.
 */
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { ExecError } from "../errors.js";
import { alignedSpan, allocAligned, DIRECT_ALIGN, directIoEnabled } from "../io/aligned.js";
import { writeAtAligned, writeError } from "../io/writer.js";
import type { WasmArena } from "../wasm/kernels.js";
import { blockBuffer, encodeChunk } from "./chunk-encoder.js";
import type { ExportChunk } from "./export-chunks.js";

/**
 * Reads bytes [chunk.start, chunk.end) of the chunk's tensor into `scratch` (aligned, alignedSpan bytes); returns the view holding them.
 */
type ChunkReader = (chunk: ExportChunk, scratch: Uint8Array) => Promise<Uint8Array>;

/** The output file: an ordinary handle, and the same file opened with O_DIRECT (null when refused). */
export interface ChunkOutput {
	file: string;
	handle: FileHandle;
	direct: FileHandle | null;
}

/** Opens the (existing) output file for positioned writes, plus an O_DIRECT handle where allowed. */
export async function openChunkOutput(file: string): Promise<ChunkOutput> {
	let handle: FileHandle;
	try {
		handle = await open(file, "r+");
	} catch (err) {
		throw writeError(file, "opening the temporary file", err);
	}
	const direct = directIoEnabled() ? await open(file, constants.O_WRONLY | constants.O_DIRECT).catch(() => null) : null;
	return { file, handle, direct };
}

/** Closes both handles of an output (errors ignored: the export's commit fsyncs and reports). */
export async function closeChunkOutput(out: ChunkOutput): Promise<void> {
	await Promise.all([out.handle.close().catch(() => undefined), out.direct?.close().catch(() => undefined)]);
}

interface Pending {
	chunk: ExportChunk;
	read?: Promise<Uint8Array>;
	resolve(): void;
	reject(err: unknown): void;
}

export class ChunkPipeline {
	private readonly queue: Pending[] = [];
	private readonly inBufs: Uint8Array[];
	private readonly outBufs: Uint8Array[];
	private readonly writes: Array<Promise<void> | undefined> = [undefined, undefined];
	private readonly block: Float32Array;
	private running = false;
	private seq = 0;

	/** `maxIn` / `maxOut`: the largest chunk's source and output bytes (the buffers are sized for them). */
	constructor(
		private readonly arena: WasmArena | undefined,
		private readonly read: ChunkReader,
		private readonly out: ChunkOutput,
		maxIn: number,
		maxOut: number,
	) {
		const take = (bytes: number) => arena?.allocate(bytes) ?? allocAligned(bytes);
		this.inBufs = [take(alignedSpan(maxIn)), take(alignedSpan(maxIn))];
		this.outBufs = [take(alignedSpan(maxOut)), take(alignedSpan(maxOut))];
		this.block = blockBuffer(arena);
	}

	/** Reads, encodes and writes `chunk`; resolves once its bytes are written. Chunks are processed in submission order. */
	submit(chunk: ExportChunk): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			this.queue.push({ chunk, resolve, reject });
			// A chunk waiting behind the one being encoded gets its read started now (into the other buffer).
			if (this.queue.length === 2 && this.running) this.startRead(this.queue[1]!, this.seq + 1);
			if (!this.running) void this.drain();
		});
	}

	/**
	 * Waits for the last writes; gives the buffers back to the arena. With `abort`, the chunks not yet started are
	 * dropped (rejected) first.
	 */
	async close(abort = false): Promise<void> {
		if (abort) {
			for (const p of this.queue.splice(1)) p.reject(new ExecError("Interrupted", `${this.out.file}: export stopped`));
		}
		while (this.running) await new Promise((r) => setImmediate(r));
		await Promise.all(this.writes.map((w) => w?.catch(() => undefined)));
		for (const b of [...this.inBufs, ...this.outBufs]) this.arena?.release(b);
	}

	private startRead(p: Pending, seq: number): void {
		if (p.read !== undefined) return;
		p.read = this.read(p.chunk, this.inBufs[seq & 1]!);
		p.read.catch(() => undefined);
	}

	private async drain(): Promise<void> {
		this.running = true;
		try {
			while (this.queue.length > 0) {
				const p = this.queue[0]!;
				const seq = this.seq;
				try {
					this.startRead(p, seq);
					const raw = await p.read!;
					const next = this.queue[1];
					if (next !== undefined) this.startRead(next, seq + 1);
					// The output buffer of two chunks ago is free once its write is done.
					const slot = seq & 1;
					await this.writes[slot];
					const c = p.chunk;
					const within = c.position % DIRECT_ALIGN;
					const bytes = this.outBufs[slot]!.subarray(within, within + c.bytes);
					encodeChunk(this.arena, c, raw, bytes, this.block);
					const write = this.write(bytes, c.position);
					this.writes[slot] = write.catch(() => undefined);
					write.then(p.resolve, p.reject);
				} catch (err) {
					p.reject(err);
				}
				this.queue.shift();
				this.seq++;
			}
		} finally {
			this.running = false;
		}
	}

	private async write(bytes: Uint8Array, position: number): Promise<void> {
		if (!(await writeAtAligned(this.out.handle, this.out.direct, bytes, position, this.out.file))) this.out.direct = null;
	}
}
