/**
 * Streaming writer for one safetensors file. The header is computed up front (layout.ts), so tensor data
 * can go straight to its final position as it is produced; tensors arrive in header order and are
 * encoded and written in bounded slices, so no buffer ever holds a whole tensor's output bytes twice or a
 * whole file. Positioned writes; `finish()` fsyncs, `abort()` removes the partial file.
 */
import { type FileHandle, open, unlink } from "node:fs/promises";
import { ExecError, SafetensorsError } from "../errors.js";
import { DIRECT_ALIGN } from "./aligned.js";
import type { Checksum } from "./checksum.js";
import { allFiniteF32, encodeChecked, firstNonFinite, type NonFiniteAt } from "./convert.js";
import { dtypeBytes, isFloatDtype } from "./dtypes.js";
import { type FileLayout, type LayoutEntry, type LayoutOptions, layoutTensors } from "./layout.js";
import type { TensorInfo } from "./types.js";

/**
 * Largest slice encoded and written in one call (16 MiB). Big enough that per-call overhead is noise,
 * small enough that the two slice buffers of a writer stay far below the size of one real tensor.
 */
export const WRITE_CHUNK_BYTES = 16 * 2 ** 20;

/** Turns a failed fs call on `file` into ExecError: "DiskFull" for ENOSPC / EDQUOT, else "Io". */
export function writeError(file: string, action: string, err: unknown): ExecError {
	const code = (err as NodeJS.ErrnoException | undefined)?.code;
	const detail = err instanceof Error ? err.message : String(err);
	if (code === "ENOSPC" || code === "EDQUOT") {
		return new ExecError("DiskFull", `${file}: disk full while ${action} (${detail})`, { cause: err });
	}
	return new ExecError("Io", `${file}: failed ${action}: ${detail}`, { cause: err });
}

/** Writes all of `bytes` at `position`, looping over short writes. */
export async function writeAt(handle: FileHandle, bytes: Uint8Array, position: number, file: string): Promise<void> {
	let done = 0;
	while (done < bytes.byteLength) {
		let written: number;
		try {
			({ bytesWritten: written } = await handle.write(bytes, done, bytes.byteLength - done, position + done));
		} catch (err) {
			throw writeError(file, `writing ${bytes.byteLength} bytes at offset ${position}`, err);
		}
		if (written <= 0) {
			throw new ExecError("Io", `${file}: the write at offset ${position + done} made no progress`);
		}
		done += written;
	}
}

/**
 * Writes `bytes` at `position` like writeAt, but the whole pages of the range with a direct write through `direct`
 * (a handle of the same file opened with O_DIRECT; null for none) and only the partial pages at its two ends
 * through `handle`. Direct writes skip the page cache, whose copying costs more CPU than a merge's arithmetic on
 * some virtual machines; no page is written both ways, so the two paths never hold different versions of one page.
 * `bytes` must start at an address congruent to `position` modulo DIRECT_ALIGN (chunked-job.ts encodes into
 * aligned buffers at that offset). Returns false when the file system refused the direct write (EINVAL): the bytes
 * then went through `handle`, and the caller should stop using `direct`.
 */
export async function writeAtAligned(
	handle: FileHandle,
	direct: FileHandle | null,
	bytes: Uint8Array,
	position: number,
	file: string,
): Promise<boolean> {
	const end = position + bytes.byteLength;
	const bodyStart = Math.min(end, Math.ceil(position / DIRECT_ALIGN) * DIRECT_ALIGN);
	const bodyEnd = Math.max(bodyStart, Math.floor(end / DIRECT_ALIGN) * DIRECT_ALIGN);
	const part = (from: number, to: number) => bytes.subarray(from - position, to - position);
	let accepted = true;
	if (direct !== null && bodyEnd > bodyStart) {
		try {
			await writeAt(direct, part(bodyStart, bodyEnd), bodyStart, file);
		} catch (err) {
			// Refused (EINVAL): everything goes through the ordinary handle, which rewrites any part already written.
			if ((err as { cause?: NodeJS.ErrnoException }).cause?.code !== "EINVAL") throw err;
			accepted = false;
		}
	}
	if (direct === null || !accepted) {
		await writeAt(handle, bytes, position, file);
		return accepted;
	}
	if (bodyStart > position) await writeAt(handle, part(position, bodyStart), position, file);
	if (end > bodyEnd) await writeAt(handle, part(bodyEnd, end), bodyEnd, file);
	return true;
}

/** Reusable pair of slice buffers for writeTensorData (encode slice k while slice k−1 is written). */
export type SliceBuffers = [Uint8Array, Uint8Array];

/**
 * Called before a slice of float32 values whose encoding holds NaN or ±Inf is written: `at.index` counts from the
 * tensor's first element. Throwing stops the write (nothing of that slice reaches the file); returning lets it go on.
 */
export type OnNonFinite = (at: NonFiniteAt) => Promise<void>;

/**
 * Writes one tensor's data at `position` of an open file: a Float32Array is encoded to `info.dtype` in
 * WRITE_CHUNK_BYTES slices (double-buffered so encoding overlaps the previous write), raw bytes are
 * written as they are. Checks the length against `info`; feeds the written bytes to `hash` if given.
 * With `onNonFinite`, float32 data is checked for values that encode to NaN or ±Inf as it is encoded (see
 * encodeChecked). Returns the slice buffers so callers can reuse them.
 */
export async function writeTensorData(
	handle: FileHandle,
	file: string,
	info: Pick<TensorInfo, "name" | "dtype" | "byteLength">,
	position: number,
	data: Float32Array | Uint8Array,
	opts: { hash?: Checksum; slices?: SliceBuffers; onNonFinite?: OnNonFinite } = {},
): Promise<SliceBuffers | undefined> {
	const name = info.name;
	if (data instanceof Uint8Array || info.dtype === "F32") {
		const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
		if (bytes.byteLength !== info.byteLength) {
			throw new SafetensorsError("TensorInvalidInfo", file, `got ${bytes.byteLength} bytes, the header says ${info.byteLength}`, name);
		}
		for (let done = 0; done < bytes.byteLength; done += WRITE_CHUNK_BYTES) {
			const part = bytes.subarray(done, done + WRITE_CHUNK_BYTES);
			if (opts.onNonFinite !== undefined && data instanceof Float32Array) {
				const values = data.subarray(done / 4, (done + part.byteLength) / 4);
				if (!allFiniteF32(values)) await reportNonFinite(values, "F32", done / 4, opts.onNonFinite);
			}
			opts.hash?.update(part);
			await writeAt(handle, part, position + done, file);
		}
		return opts.slices;
	}
	if (!isFloatDtype(info.dtype)) {
		throw new SafetensorsError("UnsupportedDtype", file, `cannot encode float32 values as ${info.dtype}; pass raw bytes`, name);
	}
	const size = dtypeBytes(info.dtype);
	if (data.length * size !== info.byteLength) {
		throw new SafetensorsError("TensorInvalidInfo", file, `got ${data.length} values, the header says ${info.byteLength / size}`, name);
	}
	const perSlice = Math.floor(WRITE_CHUNK_BYTES / size);
	const want = Math.min(data.length, perSlice) * size;
	const slices: SliceBuffers =
		opts.slices !== undefined && opts.slices[0].byteLength >= want
			? opts.slices
			: [new Uint8Array(Math.min(want, WRITE_CHUNK_BYTES)), new Uint8Array(Math.min(want, WRITE_CHUNK_BYTES))];
	let pending: Promise<void> = Promise.resolve();
	for (let k = 0, start = 0; start < data.length; k++, start += perSlice) {
		const part = data.subarray(start, start + perSlice);
		const bytes = slices[k & 1]!.subarray(0, part.length * size);
		const finite = encodeChecked(part, info.dtype as "F64" | "F16" | "BF16", bytes);
		if (!finite && opts.onNonFinite !== undefined) {
			await pending.catch(() => undefined);
			await reportNonFinite(part, info.dtype as "F64" | "F16" | "BF16", start, opts.onNonFinite);
		}
		await pending;
		opts.hash?.update(bytes);
		pending = writeAt(handle, bytes, position + start * size, file);
	}
	await pending;
	return slices;
}

/** Finds the first non-finite encoding in `values` (which start at element `offset`) and reports it. */
async function reportNonFinite(
	values: Float32Array,
	dtype: "F64" | "F32" | "F16" | "BF16",
	offset: number,
	onNonFinite: OnNonFinite,
): Promise<void> {
	const at = firstNonFinite(values, dtype);
	if (at !== undefined) await onNonFinite({ index: offset + at.index, value: at.value });
}

/** Writes one safetensors file from a precomputed layout. */
export class SafetensorsWriter {
	/** The tensors in header (= write) order, with their offsets. */
	readonly tensors: readonly TensorInfo[];
	/** Final size of the file in bytes. */
	readonly fileSize: number;
	private next = 0;
	private finished = false;
	private handle: FileHandle | undefined;
	private slices: SliceBuffers | undefined;

	private constructor(
		readonly path: string,
		handle: FileHandle,
		private readonly layout: FileLayout,
	) {
		this.handle = handle;
		this.tensors = layout.tensors;
		this.fileSize = layout.fileSize;
	}

	/**
	 * Lays out `entries` (SafetensorsError on bad names, shapes, metadata), creates or truncates `path` and
	 * writes the header. Tensor data must then be written with writeTensor in the same order.
	 */
	static async create(
		path: string,
		entries: readonly LayoutEntry[],
		metadata?: Record<string, string>,
		opts: LayoutOptions = {},
	): Promise<SafetensorsWriter> {
		const layout = layoutTensors(entries, metadata, { file: path, ...opts });
		let handle: FileHandle;
		try {
			handle = await open(path, "w");
		} catch (err) {
			throw writeError(path, "creating the file", err);
		}
		const writer = new SafetensorsWriter(path, handle, layout);
		try {
			await writeAt(handle, layout.header, 0, path);
		} catch (err) {
			await writer.abort();
			throw err;
		}
		return writer;
	}

	/** Name of the tensor writeTensor expects next, or undefined when all were written. */
	get expected(): string | undefined {
		return this.tensors[this.next]?.name;
	}

	/**
	 * Writes the next tensor. A Float32Array is encoded to the tensor's dtype (F64/F32/F16/BF16) and must
	 * hold exactly its element count; a Uint8Array is written byte for byte and must hold exactly its bytes.
	 */
	async writeTensor(name: string, data: Float32Array | Uint8Array): Promise<void> {
		const handle = this.open();
		const info = this.tensors[this.next];
		if (info === undefined || info.name !== name) {
			const known = this.tensors.some((t) => t.name === name);
			const where = info === undefined ? "every tensor was already written" : `expected "${info.name}" next (header order)`;
			throw new SafetensorsError(known ? "InvalidOffset" : "TensorNotFound", this.path, `cannot write now: ${where}`, name);
		}
		this.slices = await writeTensorData(
			handle,
			this.path,
			info,
			this.layout.dataStart + info.byteOffset,
			data,
			this.slices !== undefined ? { slices: this.slices } : {},
		);
		this.next++;
	}

	/** Checks that every tensor was written, then fsyncs and closes the file. */
	async finish(): Promise<void> {
		const handle = this.open();
		const missing = this.tensors[this.next];
		if (missing !== undefined) {
			const count = this.tensors.length - this.next;
			throw new SafetensorsError(
				"MetadataIncompleteBuffer",
				this.path,
				`finish() with ${count} tensor(s) not written, starting with "${missing.name}"`,
			);
		}
		this.handle = undefined;
		this.slices = undefined;
		this.finished = true;
		try {
			await handle.sync();
		} catch (err) {
			await handle.close().catch(() => undefined);
			throw writeError(this.path, "flushing the file to disk", err);
		}
		try {
			await handle.close();
		} catch (err) {
			throw writeError(this.path, "closing the file", err);
		}
	}

	/** Closes (if open) and deletes the file. Safe to call more than once and after errors; a no-op after finish(). */
	async abort(): Promise<void> {
		if (this.finished) {
			return;
		}
		const handle = this.handle;
		this.handle = undefined;
		this.slices = undefined;
		await handle?.close().catch(() => undefined);
		await unlink(this.path).catch(() => undefined);
	}

	private open(): FileHandle {
		if (this.handle === undefined) {
			throw new ExecError("Io", `${this.path}: the writer is already finished or aborted`);
		}
		return this.handle;
	}
}
