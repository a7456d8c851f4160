import type { FileHandle } from "node:fs/promises";
import { SafetensorsError } from "../errors.js";
import { alignedSpan, DIRECT_ALIGN } from "../io/aligned.js";
import type { Checksum } from "../io/checksum.js";
import { decodeToF32, encodeChecked, firstNonFinite, type NonFiniteAt } from "../io/convert.js";
import { dtypeBytes, type FloatDtype, isFloatDtype } from "../io/dtypes.js";
import type { TensorSource } from "../io/types.js";
import { type OnNonFinite, writeAtAligned } from "../io/writer.js";
import { CHUNK_ALIGN } from "../methods/chunked.js";
import type { Chunk, ChunkedKernel } from "../methods/types.js";
import { COMPUTE_BLOCK_ELEMENTS, STREAM_CHUNK_ELEMENTS, STREAM_READ_AHEAD } from "../plan/memory.js";
import { ARENA_BLOCK, ARENA_INPUTS, wasmArena } from "../wasm/kernels.js";
import { BufferPool } from "./buffer-pool.js";

/** Elements per read and per write of a streamed tensor (see STREAM_CHUNK_ELEMENTS). */
const CHUNK_ELEMENTS = STREAM_CHUNK_ELEMENTS;

/** Where a streamed tensor's bytes go. */
interface ChunkedOutput {
	handle: FileHandle;
	/** The same file opened for direct writes, shared by the jobs writing it; its handle is null when refused. */
	direct?: { handle: FileHandle | null };
	file: string;
	name: string;
	dtype: FloatDtype;
	position: number;
}

/** Writes one output chunk: whole pages directly when the output allows it (writeAtAligned), else through the page cache. */
async function writeChunk(out: ChunkedOutput, bytes: Uint8Array, position: number): Promise<void> {
	const direct = out.direct?.handle ?? null;
	if (!(await writeAtAligned(out.handle, direct, bytes, position, out.file)) && out.direct !== undefined) out.direct.handle = null;
}

/**
 * One input of a chunked job, its ring of STREAM_READ_AHEAD + 1 chunk buffers (aligned, with room for a direct
 * read), and for each ring slot the view of the bytes its last read delivered.
 */
interface StreamInput {
	source: TensorSource;
	tensor: string;
	dtype: FloatDtype;
	size: number;
	ring: Uint8Array[];
	views: Uint8Array[];
	/** Buffers of the kept chunks 0 … kept − 1 (read once, in the first pass), and the views of their bytes. */
	kept: Uint8Array[];
	keptViews: Uint8Array[];
}

function streamInput(source: TensorSource, tensor: string): StreamInput {
	const info = source.info(tensor);
	if (!isFloatDtype(info.dtype))
		throw new SafetensorsError("UnsupportedDtype", source.location, `cannot stream a ${info.dtype} tensor`, tensor);
	return { source, tensor, dtype: info.dtype, size: dtypeBytes(info.dtype), ring: [], views: [], kept: [], keptViews: [] };
}

/**
 * Reads bytes [from, to) of a tensor into `scratch` (a pool buffer of at least alignedSpan(to − from) bytes) and
 * returns the view holding them: a direct read when the source offers one, else an ordinary read at its start.
 */
async function readChunk(source: TensorSource, tensor: string, from: number, to: number, scratch: Uint8Array): Promise<Uint8Array> {
	if (source.readRawAligned !== undefined) return source.readRawAligned(tensor, from, to, scratch);
	const into = scratch.subarray(0, to - from);
	const got = await source.readRaw(tensor, from, to, into);
	if (got !== into) into.set(got);
	return into;
}

/**
 * Runs a chunked kernel over one tensor. Every pass (the kernel's scan passes, then the emit pass) reads the inputs
 * in chunks of `chunkElements` through a ring of a few buffers per input, the next chunks' reads in flight while
 * this one is computed. Reads go past the page cache where the file system allows (`readRawAligned`), so when the
 * kernel has scan passes the job keeps the first chunks, as many as the pool's hold allowance grants, and later
 * passes read only the rest again. Computation runs on blocks of `blockElements` that stay in CPU cache: each
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
	/** Called, before the chunk holding it is written, with the first value whose encoding is NaN or ±Inf. */
	onNonFinite?: OnNonFinite;
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
	const take = (bytes: number, aligned = false) => {
		const b = pool.take(bytes, aligned);
		taken.push(b);
		return b;
	};
	const f32 = (bytes: Uint8Array) => new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
	// Reads are numbered across passes (read s = chunk s mod chunks of pass ⌊s / chunks⌋) and use ring slot s mod ring,
	// except reads of kept chunks, which have their own buffers and happen in the first pass only.
	const ring = Math.max(2, Math.min(STREAM_READ_AHEAD + 1, chunks + 1));
	const chunkSpan = (inp: StreamInput) => alignedSpan(size * inp.size);
	const perChunk = inputs.reduce((a, inp) => a + chunkSpan(inp), 0);
	const granted = kernel.scanPasses > 0 ? await pool.acquireHold(chunks * perChunk) : 0;
	const kept = Math.min(chunks, Math.floor(granted / perChunk));
	const reads = new Map<number, Promise<void>>();
	// The bytes of read s (valid from when load(s) resolves until read s + ring is started, or for good if kept).
	const bytesOf = (inp: StreamInput, s: number): Uint8Array => (s % chunks < kept ? inp.keptViews[s % chunks]! : inp.views[s % ring]!);
	const load = (s: number): Promise<void> => {
		let p = reads.get(s);
		if (p === undefined) {
			const k = s % chunks;
			const from = k * step;
			const to = Math.min(n, from + step);
			const slot = s % ring;
			p =
				k < kept && s >= chunks
					? Promise.resolve()
					: Promise.all(
							inputs.map(async (inp) => {
								if (k < kept) inp.keptViews[k] = await readChunk(inp.source, inp.tensor, from * inp.size, to * inp.size, inp.kept[k]!);
								else inp.views[slot] = await readChunk(inp.source, inp.tensor, from * inp.size, to * inp.size, inp.ring[slot]!);
							}),
						).then(() => undefined);
			p.catch(() => undefined);
			reads.set(s, p);
		}
		return p;
	};
	let pending: Promise<void> | undefined;
	try {
		for (const inp of inputs) {
			inp.kept = Array.from({ length: kept }, () => take(chunkSpan(inp), true));
			inp.ring = kept < chunks ? Array.from({ length: ring }, () => take(chunkSpan(inp), true)) : [];
		}
		// Blocks go to this thread's WebAssembly arena when it has room (its slots are used synchronously, so every
		// job of the thread shares them): the compiled kernels and conversions then run on them.
		const arena = blockSize <= ARENA_BLOCK && inputs.length <= ARENA_INPUTS ? wasmArena() : undefined;
		const blockOf = (slot: number) => (arena !== undefined ? arena.slots[slot]! : f32(take(blockSize * 4)));
		const baseBlock = base !== undefined ? blockOf(0) : undefined;
		const modelBlocks = models.map((_, i) => blockOf(i + (base !== undefined ? 1 : 0)));
		// Output chunks are encoded into aligned buffers at the offset their file position has within a page, so their
		// whole pages can be written directly.
		const outBufs = [take(alignedSpan(size * outSize), true), take(alignedSpan(size * outSize), true)];
		// Encodes a block; false when some encoded value is NaN or ±Inf (the check is part of the encode loops).
		const encode = (values: Float32Array, into: Uint8Array): boolean => {
			if (arena?.holds(values)) {
				if (opts.out.dtype === "BF16") return arena.encodeBf16(values, into);
				if (opts.out.dtype === "F32") {
					into.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
					return arena.allFiniteF32(values);
				}
			}
			return encodeChecked(values, opts.out.dtype, into);
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
				return arena !== undefined && inp.dtype === "BF16"
					? arena.decodeBf16(raw, buf.subarray(0, len))
					: decodeToF32(raw, inp.dtype, buf.subarray(0, len));
			};
			return {
				offset: from,
				base: base !== undefined ? dec(base, baseBlock!) : undefined,
				models: models.map((m, i) => dec(m, modelBlocks[i]!)),
			};
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
			const position = opts.out.position + start * outSize;
			const within = position % DIRECT_ALIGN;
			const chunkBytes = outBufs[k & 1]!.subarray(within, within + (end - start) * outSize);
			let nonFinite: NonFiniteAt | undefined;
			for (let from = start; from < end; from += block) {
				const len = Math.min(block, end - from);
				const values = kernel.emit(decodeBlock(s, from, len));
				if (!encode(values, chunkBytes.subarray((from - start) * outSize, (from - start + len) * outSize)) && nonFinite === undefined) {
					const at = firstNonFinite(values, opts.out.dtype);
					if (at !== undefined) nonFinite = { index: from + at.index, value: at.value };
				}
			}
			if (nonFinite !== undefined && opts.onNonFinite !== undefined) {
				await pending?.catch(() => undefined);
				await opts.onNonFinite(nonFinite);
			}
			opts.hash?.update(chunkBytes);
			await pending;
			pending = writeChunk(opts.out, chunkBytes, position);
			pending.catch(() => undefined);
		}
		await pending;
	} finally {
		await pending?.catch(() => undefined);
		await Promise.all([...reads.values()].map((r) => r.catch(() => undefined)));
		pool.give(...taken);
		pool.releaseHold(granted);
		if (opts.pool === undefined) pool.dispose();
	}
}

/**
 * Copies a tensor's raw bytes to the output through a ring of two chunk buffers (a passthrough job). A chunk read
 * directly sits at its input offset's place within a page; when the output offset's place differs it is moved into
 * one of two aligned output buffers, so its whole pages can be written directly too.
 */
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
	const ring = [pool.take(alignedSpan(size), true), pool.take(alignedSpan(size), true)];
	const moved: (Uint8Array | undefined)[] = [undefined, undefined];
	let pending: Promise<void> | undefined;
	try {
		for (let from = 0, k = 0; from < opts.byteLength; from += step, k++) {
			const to = Math.min(opts.byteLength, from + step);
			// The buffers written two chunks ago are free once the previous write has finished.
			let bytes = await readChunk(opts.source, opts.tensor, from, to, ring[k & 1]!);
			const position = opts.out.position + from;
			const within = position % DIRECT_ALIGN;
			if (opts.out.direct?.handle != null && bytes.byteOffset % DIRECT_ALIGN !== within) {
				moved[k & 1] ??= pool.take(alignedSpan(size), true);
				const into = moved[k & 1]!.subarray(within, within + bytes.byteLength);
				into.set(bytes);
				bytes = into;
			}
			opts.hash?.update(bytes);
			await pending;
			pending = writeChunk(opts.out, bytes, position);
			pending.catch(() => undefined);
		}
		await pending;
	} finally {
		await pending?.catch(() => undefined);
		pool.give(...ring, ...moved);
		if (opts.pool === undefined) pool.dispose();
	}
}
