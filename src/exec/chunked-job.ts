import type { FileHandle } from "node:fs/promises";
import type { Checksum } from "../io/checksum.js";
import { SafetensorsError } from "../errors.js";
import { decodeToF32, encodeFromF32 } from "../io/convert.js";
import { dtypeBytes, isFloatDtype, type FloatDtype } from "../io/dtypes.js";
import type { TensorSource } from "../io/types.js";
import { writeAt } from "../io/writer.js";
import { CHUNK_ALIGN, type Chunk, type ChunkedKernel } from "../methods/chunked.js";
import { COMPUTE_BLOCK_ELEMENTS, STREAM_CHUNK_ELEMENTS, STREAM_READ_AHEAD } from "../plan/memory.js";
import { ARENA_BLOCK, ARENA_INPUTS, wasmArena } from "../wasm/kernels.js";
import { BufferPool } from "./buffer-pool.js";

/** Elements per read and per write of a streamed tensor (see STREAM_CHUNK_ELEMENTS). */
export const CHUNK_ELEMENTS = STREAM_CHUNK_ELEMENTS;


/** Where a streamed tensor's bytes go. */
export interface ChunkedOutput {
	handle: FileHandle;
	file: string;
	name: string;
	dtype: FloatDtype;
	position: number;
}

/** One input of a chunked job and its ring of STREAM_READ_AHEAD + 1 chunk buffers. */
interface StreamInput {
	source: TensorSource;
	tensor: string;
	dtype: FloatDtype;
	size: number;
	ring: Uint8Array[];
}

function streamInput(source: TensorSource, tensor: string): StreamInput {
	const info = source.info(tensor);
	if (!isFloatDtype(info.dtype)) throw new SafetensorsError("UnsupportedDtype", source.location, `cannot stream a ${info.dtype} tensor`, tensor);
	return { source, tensor, dtype: info.dtype, size: dtypeBytes(info.dtype), ring: [] };
}

/** Reads bytes [from, to) of a tensor straight into `into` (copying only if the source ignores the target). */
async function readInto(source: TensorSource, tensor: string, from: number, to: number, into: Uint8Array): Promise<void> {
	const got = await source.readRaw(tensor, from, to, into);
	if (got !== into) into.set(got);
}

/**
 * Runs a chunked kernel over one tensor. Every pass (the kernel's scan passes, then the emit pass) reads the inputs
 * in chunks of `chunkElements` through a ring of a few buffers per input, the next chunks' reads in flight while
 * this one is computed: the first pass reads from the disk, later ones from the page cache, and nothing
 * proportional to the tensor is held. Computation runs on blocks of `blockElements` that stay in CPU cache: each
 * block is decoded, scanned or emitted, and its output encoded into one of two alternating chunk buffers, whose
 * write overlaps the next chunk's work. Every buffer comes from `pool` and goes back to it, so a merge touches fresh
 * memory only for its first tensor.
 */
export async function runChunked(opts: {
	kernel: ChunkedKernel;
	numel: number;
	base: { source: TensorSource; tensor: string } | undefined;
	models: { source: TensorSource; tensor: string }[];
	out: ChunkedOutput;
	hash?: Checksum;
	chunkElements?: number;
	blockElements?: number;
	pool?: BufferPool;
}): Promise<void> {
	const pool = opts.pool ?? new BufferPool();
	const align = (v: number) => Math.max(CHUNK_ALIGN, Math.floor(v / CHUNK_ALIGN) * CHUNK_ALIGN);
	const step = align(opts.chunkElements ?? CHUNK_ELEMENTS);
	const block = Math.min(step, align(opts.blockElements ?? COMPUTE_BLOCK_ELEMENTS));
	const n = opts.numel;
	const { kernel } = opts;
	const base = opts.base !== undefined ? streamInput(opts.base.source, opts.base.tensor) : undefined;
	const models = opts.models.map((m) => streamInput(m.source, m.tensor));
	const inputs = [...(base !== undefined ? [base] : []), ...models];
	const chunks = Math.ceil(n / step);
	const size = Math.min(step, n);
	const blockSize = Math.min(block, n);
	const outSize = dtypeBytes(opts.out.dtype);
	const taken: Uint8Array[] = [];
	const take = (bytes: number) => {
		const b = pool.take(bytes);
		taken.push(b);
		return b;
	};
	const f32 = (bytes: Uint8Array) => new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
	// Reads are numbered across passes (read s = chunk s mod chunks of pass ⌊s / chunks⌋) and use ring slot s mod ring.
	const ring = Math.max(2, Math.min(STREAM_READ_AHEAD + 1, chunks + 1));
	const reads = new Map<number, Promise<void>>();
	const bytesOf = (inp: StreamInput, s: number): Uint8Array => {
		const k = s % chunks;
		return inp.ring[s % ring]!.subarray(0, (Math.min(n, (k + 1) * step) - k * step) * inp.size);
	};
	const load = (s: number): Promise<void> => {
		let p = reads.get(s);
		if (p === undefined) {
			const from = (s % chunks) * step;
			p = Promise.all(inputs.map((inp) => { const b = bytesOf(inp, s); return readInto(inp.source, inp.tensor, from * inp.size, from * inp.size + b.byteLength, b); })).then(() => undefined);
			p.catch(() => undefined);
			reads.set(s, p);
		}
		return p;
	};
	let pending: Promise<void> | undefined;
	try {
		for (const inp of inputs) inp.ring = Array.from({ length: ring }, () => take(size * inp.size));
		// Blocks go to this thread's WebAssembly arena when it has room (its slots are used synchronously, so every
		// job of the thread shares them): the compiled kernels and conversions then run on them.
		const arena = blockSize <= ARENA_BLOCK && inputs.length <= ARENA_INPUTS ? wasmArena() : undefined;
		const blockOf = (slot: number) => (arena !== undefined ? arena.slots[slot]! : f32(take(blockSize * 4)));
		const baseBlock = base !== undefined ? blockOf(0) : undefined;
		const modelBlocks = models.map((_, i) => blockOf(i + (base !== undefined ? 1 : 0)));
		const outBufs = [take(size * outSize), take(size * outSize)];
		const encode = (values: Float32Array, into: Uint8Array) => {
			if (arena !== undefined && opts.out.dtype === "BF16" && arena.holds(values)) arena.encodeBf16(values, into);
			else encodeFromF32(values, opts.out.dtype, into);
		};
		// Waits for read s and keeps the next ring − 1 reads in flight (read s + ring − 1 fills the slot of read s − 1,
		// already computed).
		const ready = async (s: number, last: number): Promise<void> => {
			await load(s);
			reads.delete(s);
			for (let a = s + 1; a <= Math.min(last, s + ring - 1); a++) void load(a);
		};
		// Decodes block [from, from + len) of read s into the block buffers.
		const decodeBlock = (s: number, from: number, len: number): Chunk => {
			const within = from - (s % chunks) * step;
			const dec = (inp: StreamInput, buf: Float32Array) => {
				const raw = bytesOf(inp, s).subarray(within * inp.size, (within + len) * inp.size);
				return arena !== undefined && inp.dtype === "BF16" ? arena.decodeBf16(raw, buf.subarray(0, len)) : decodeToF32(raw, inp.dtype, buf.subarray(0, len));
			};
			return { offset: from, base: base !== undefined ? dec(base, baseBlock!) : undefined, models: models.map((m, i) => dec(m, modelBlocks[i]!)) };
		};
		let pass = 0;
		for (; pass < kernel.scanPasses; pass++) {
			for (let k = 0; k < chunks; k++) {
				const s = pass * chunks + k;
				await ready(s, (kernel.scanPasses + 1) * chunks - 1);
				const end = Math.min(n, (k + 1) * step);
				for (let from = k * step; from < end; from += block) kernel.scan(pass, decodeBlock(s, from, Math.min(block, end - from)));
			}
		}
		for (let k = 0; k < chunks; k++) {
			const s = pass * chunks + k;
			await ready(s, (pass + 1) * chunks - 1);
			const start = k * step;
			const end = Math.min(n, start + step);
			const chunkBytes = outBufs[k & 1]!.subarray(0, (end - start) * outSize);
			for (let from = start; from < end; from += block) {
				const len = Math.min(block, end - from);
				const values = kernel.emit(decodeBlock(s, from, len));
				encode(values, chunkBytes.subarray((from - start) * outSize, (from - start + len) * outSize));
			}
			opts.hash?.update(chunkBytes);
			await pending;
			pending = writeAt(opts.out.handle, chunkBytes, opts.out.position + start * outSize, opts.out.file);
			pending.catch(() => undefined);
		}
		await pending;
	} finally {
		await pending?.catch(() => undefined);
		await Promise.all([...reads.values()].map((r) => r.catch(() => undefined)));
		pool.give(...taken);
	}
}

/** Copies a tensor's raw bytes to the output through a ring of two chunk buffers (a passthrough job). */
export async function copyChunked(opts: {
	source: TensorSource;
	tensor: string;
	byteLength: number;
	out: ChunkedOutput;
	hash?: Checksum;
	chunkBytes?: number;
	pool?: BufferPool;
}): Promise<void> {
	const pool = opts.pool ?? new BufferPool();
	const step = opts.chunkBytes ?? CHUNK_ELEMENTS * 2;
	const size = Math.min(step, opts.byteLength);
	const ring = [pool.take(size), pool.take(size)];
	let pending: Promise<void> | undefined;
	try {
		for (let from = 0, k = 0; from < opts.byteLength; from += step, k++) {
			const to = Math.min(opts.byteLength, from + step);
			const bytes = ring[k & 1]!.subarray(0, to - from);
			// The buffer written two chunks ago is free once the previous write has finished.
			await readInto(opts.source, opts.tensor, from, to, bytes);
			opts.hash?.update(bytes);
			await pending;
			pending = writeAt(opts.out.handle, bytes, opts.out.position + from, opts.out.file);
			pending.catch(() => undefined);
		}
		await pending;
	} finally {
		await pending?.catch(() => undefined);
		pool.give(...ring);
	}
}
