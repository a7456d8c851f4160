/**
 * Reads one safetensors file through positioned reads on a FileHandle: the header is read and validated
 * once at open, then each call reads only the bytes of the tensor (or rows, or byte range) it needs.
 * The whole file is never loaded, so models larger than RAM can be merged tensor by tensor.
 */
import { constants as bufferConstants } from "node:buffer";
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { SafetensorsError } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { alignedSpan, DIRECT_ALIGN, directIoEnabled } from "./aligned.js";
import { decodeToF32 } from "./convert.js";
import { dtypeBytes, type FloatDtype, isFloatDtype } from "./dtypes.js";
import { type HeaderOptions, LENGTH_PREFIX_BYTES, parseHeader, readHeaderLength } from "./header.js";
import { openRegularFile } from "./regular-file.js";
import type { SafetensorsHeader, TensorInfo, TensorSource } from "./types.js";

/**
 * Largest single `FileHandle.read` call. Node rejects lengths above 2^31 − 1 bytes, so bigger tensors
 * are read in 1 GiB steps.
 */
const MAX_READ_CHUNK_BYTES = 2 ** 30;

/**
 * Largest result one read may return, in bytes: the longest buffer Node can allocate (buffer.constants.MAX_LENGTH,
 * 4 GiB on Node 20). A bigger tensor (or its float32 decoding) is refused up front with a SafetensorsError, and read
 * in parts with readRows / readRaw ranges instead.
 */
const MAX_READ_RESULT_BYTES = bufferConstants.MAX_LENGTH;

/** One open safetensors file: a TensorSource plus its validated header and size in bytes. */
export interface SafetensorsFile extends TensorSource {
	readonly header: SafetensorsHeader;
	readonly size: number;
	readRawAligned(name: string, start: number, end: number, scratch: Uint8Array): Promise<Uint8Array>;
}

/**
 * Opens and validates `path`. Throws SafetensorsError: kind "IoError" (missing file, a folder, read
 * failure) or any header kind from parseHeader. The handle stays open until `close()`.
 */
export async function openSafetensors(path: string, opts: HeaderOptions = {}): Promise<SafetensorsFile> {
	let handle: FileHandle;
	let size: number;
	try {
		// A FIFO or device would block the open or never end; refused here before any read.
		({ handle, size } = await openRegularFile(path, (why) => new SafetensorsError("IoError", path, why)));
	} catch (err) {
		if (err instanceof SafetensorsError) throw err;
		throw ioError(path, "cannot open", err);
	}
	try {
		const first = new Uint8Array(Math.min(LENGTH_PREFIX_BYTES, size));
		await readExact(handle, first, 0, path);
		const length = readHeaderLength(first, size, path, opts);
		const prefixAndHeader = new Uint8Array(LENGTH_PREFIX_BYTES + length);
		prefixAndHeader.set(first);
		await readExact(handle, prefixAndHeader.subarray(LENGTH_PREFIX_BYTES), LENGTH_PREFIX_BYTES, path);
		const header = parseHeader(prefixAndHeader, size, path, opts);
		return new SafetensorsFileReader(path, handle, header, size);
	} catch (err) {
		await handle.close().catch(() => undefined);
		throw err;
	}
}

class SafetensorsFileReader implements SafetensorsFile {
	private handle: FileHandle | undefined;
	/**
	 * A second handle opened with O_DIRECT on the first aligned read: undefined until then, null when the file
	 * system refuses direct reads (then aligned reads are ordinary reads).
	 */
	private direct: Promise<FileHandle | null> | undefined;

	constructor(
		readonly location: string,
		handle: FileHandle,
		readonly header: SafetensorsHeader,
		readonly size: number,
	) {
		this.handle = handle;
	}

	names(): string[] {
		return [...this.header.tensors.keys()];
	}

	has(name: string): boolean {
		return this.header.tensors.has(name);
	}

	info(name: string): TensorInfo {
		const info = this.header.tensors.get(name);
		if (info === undefined) {
			throw new SafetensorsError("TensorNotFound", this.location, "no tensor with this name in the file", name);
		}
		return info;
	}

	fileOf(name: string): string {
		this.info(name);
		return this.location;
	}

	metadata(): Record<string, string> {
		return { ...this.header.metadata };
	}

	async read(name: string): Promise<Tensor> {
		const info = this.info(name);
		const dtype = this.floatDtype(info);
		this.checkResult(info, (info.byteLength / dtypeBytes(dtype)) * 4, "as float32");
		return { shape: [...info.shape], data: await this.decodeRange(info, dtype, 0, info.byteLength) };
	}

	async readRows(name: string, rowStart: number, rowEnd: number): Promise<Tensor> {
		const info = this.info(name);
		const dtype = this.floatDtype(info);
		const [rows, ...rest] = info.shape.length === 0 ? [1] : info.shape;
		checkRange(this.location, name, "rows", rowStart, rowEnd, rows ?? 1);
		const rowBytes = rest.reduce((a, d) => a * d, dtypeBytes(dtype));
		this.checkResult(info, ((rowEnd - rowStart) * rowBytes * 4) / dtypeBytes(dtype), `as float32 (rows ${rowStart}–${rowEnd})`);
		const data = await this.decodeRange(info, dtype, rowStart * rowBytes, rowEnd * rowBytes);
		return { shape: [rowEnd - rowStart, ...rest], data };
	}

	async readRaw(name: string, start = 0, end?: number, into?: Uint8Array): Promise<Uint8Array> {
		const info = this.info(name);
		const stop = end ?? info.byteLength;
		checkRange(this.location, name, "bytes", start, stop, info.byteLength);
		if (into !== undefined && into.byteLength !== stop - start) {
			throw new SafetensorsError(
				"InvalidRange",
				this.location,
				`readRaw target holds ${into.byteLength} bytes for a range of ${stop - start}`,
				name,
			);
		}
		if (into === undefined) this.checkResult(info, stop - start, start === 0 && stop === info.byteLength ? "" : `(bytes ${start}–${stop})`);
		const out = into ?? allocate(this.location, name, () => new Uint8Array(stop - start));
		await readExact(this.open(), out, this.header.dataStart + info.byteOffset + start, this.location);
		return out;
	}

	async readRawAligned(name: string, start: number, end: number, scratch: Uint8Array): Promise<Uint8Array> {
		const info = this.info(name);
		checkRange(this.location, name, "bytes", start, end, info.byteLength);
		const length = end - start;
		if (scratch.byteLength < alignedSpan(length)) {
			throw new SafetensorsError(
				"InvalidRange",
				this.location,
				`aligned read scratch holds ${scratch.byteLength} bytes, ${alignedSpan(length)} needed for ${length}`,
				name,
			);
		}
		const position = this.header.dataStart + info.byteOffset + start;
		const direct = length > 0 ? await this.directHandle() : null;
		if (direct !== null) {
			const from = position - (position % DIRECT_ALIGN);
			const span = Math.ceil((position + length - from) / DIRECT_ALIGN) * DIRECT_ALIGN;
			try {
				if (!(await readAtLeast(direct, scratch.subarray(0, span), position + length - from, from))) {
					throw new SafetensorsError(
						"IoError",
						this.location,
						`unexpected end of file before offset ${position + length} (the file shrank after it was opened?)`,
					);
				}
				return scratch.subarray(position - from, position - from + length);
			} catch (err) {
				// A file system may accept O_DIRECT at open and refuse the reads (EINVAL): use ordinary reads from now on.
				if ((err as NodeJS.ErrnoException).code !== "EINVAL")
					throw err instanceof SafetensorsError ? err : ioError(this.location, `cannot read ${span} bytes at offset ${from}`, err);
				this.direct = Promise.resolve(null);
				await direct.close().catch(() => undefined);
			}
		}
		const out = scratch.subarray(0, length);
		await readExact(this.open(), out, position, this.location);
		return out;
	}

	async close(): Promise<void> {
		const handle = this.handle;
		const direct = this.direct;
		this.handle = undefined;
		this.direct = Promise.resolve(null);
		await (await direct?.catch(() => null))?.close().catch(() => undefined);
		if (handle !== undefined) {
			await handle.close();
		}
	}

	/** The O_DIRECT handle, opened on first use; null when direct reads are off or refused by the file system. */
	private directHandle(): Promise<FileHandle | null> {
		this.open();
		if (!directIoEnabled()) return Promise.resolve(null);
		this.direct ??= open(this.location, constants.O_RDONLY | constants.O_DIRECT).catch(() => null);
		return this.direct;
	}

	/** Refuses a result of `bytes` bytes that no single buffer can hold (TensorTooLarge, naming what to use instead). */
	private checkResult(info: TensorInfo, bytes: number, what: string): void {
		if (bytes > MAX_READ_RESULT_BYTES) {
			const size = `${(bytes / 2 ** 30).toFixed(1)} GiB`;
			const reading = what === "" ? "reading it" : `reading it ${what}`;
			throw new SafetensorsError(
				"TensorTooLarge",
				this.location,
				`${reading} needs ${size} (${bytes} bytes) in one buffer, ` +
					`above the ${MAX_READ_RESULT_BYTES}-byte limit of this Node.js; read it in parts with readRows or a readRaw byte range`,
				info.name,
			);
		}
	}

	private floatDtype(info: TensorInfo): FloatDtype {
		if (!isFloatDtype(info.dtype)) {
			throw new SafetensorsError("UnsupportedDtype", this.location, `unsupported dtype for merging: ${info.dtype}`, info.name);
		}
		return info.dtype;
	}

	/** Reads bytes [start, end) of a float tensor and decodes them; F32 is read straight into the result. */
	private async decodeRange(info: TensorInfo, dtype: FloatDtype, start: number, end: number): Promise<Float32Array> {
		const position = this.header.dataStart + info.byteOffset + start;
		const f32 = (n: number) => allocate(this.location, info.name, () => uninitializedF32(n));
		if (dtype === "F32") {
			// convert.ts refuses big-endian hosts, so the file's little-endian bytes are already float32s.
			const out = f32((end - start) / 4);
			await readExact(this.open(), new Uint8Array(out.buffer, out.byteOffset, out.byteLength), position, this.location);
			return out;
		}
		if (dtype === "BF16" || dtype === "F16") {
			// One allocation: read the 16-bit values into the upper half of the result and widen them in place
			// (decoding forward never overwrites a value before it is read).
			const n = (end - start) / 2;
			const out = f32(n);
			const raw = new Uint8Array(out.buffer, out.byteOffset + n * 2, n * 2);
			await readExact(this.open(), raw, position, this.location);
			return decodeToF32(raw, dtype, out);
		}
		const bytes = allocate(this.location, info.name, () => new Uint8Array(end - start));
		await readExact(this.open(), bytes, position, this.location);
		return decodeToF32(bytes, dtype, f32((end - start) / 8));
	}

	private open(): FileHandle {
		if (this.handle === undefined) {
			throw new SafetensorsError("IoError", this.location, "file was already closed");
		}
		return this.handle;
	}
}

/**
 * Runs an allocation of a read's result; a RangeError (the system could not give that much memory) becomes a
 * SafetensorsError naming the file and the tensor.
 */
function allocate<T>(file: string, tensor: string, make: () => T): T {
	try {
		return make();
	} catch (err) {
		if (!(err instanceof RangeError)) throw err;
		throw new SafetensorsError("TensorTooLarge", file, `cannot allocate memory to read it: ${err.message}`, tensor);
	}
}

/**
 * A Float32Array whose memory is not zero-filled first (every element is overwritten by the read):
 * zeroing hundreds of megabytes costs about as much as decoding them.
 */
function uninitializedF32(n: number): Float32Array {
	const buf = Buffer.allocUnsafeSlow(n * 4);
	return buf.byteOffset % 4 === 0 ? new Float32Array(buf.buffer, buf.byteOffset, n) : new Float32Array(n);
}

/** Fills `buf` from `position`, looping over short reads; end of file before it is full is an IoError. */
async function readExact(handle: FileHandle, buf: Uint8Array, position: number, file: string): Promise<void> {
	let filled = 0;
	while (filled < buf.length) {
		const length = Math.min(buf.length - filled, MAX_READ_CHUNK_BYTES);
		let bytesRead: number;
		try {
			({ bytesRead } = await handle.read(buf, filled, length, position + filled));
		} catch (err) {
			throw ioError(file, `cannot read ${length} bytes at offset ${position + filled}`, err);
		}
		if (bytesRead === 0) {
			throw new SafetensorsError(
				"IoError",
				file,
				`unexpected end of file at offset ${position + filled} (the file shrank after it was opened?)`,
			);
		}
		filled += bytesRead;
	}
}

/**
 * Reads into `buf` from `position` until at least `need` bytes have arrived (a direct read asks for whole blocks,
 * and the file may end inside the last one). Returns false at an early end of file; read errors are thrown as the
 * system reported them.
 */
async function readAtLeast(handle: FileHandle, buf: Uint8Array, need: number, position: number): Promise<boolean> {
	let filled = 0;
	while (filled < need) {
		const { bytesRead } = await handle.read(buf, filled, Math.min(buf.length - filled, MAX_READ_CHUNK_BYTES), position + filled);
		if (bytesRead === 0) return false;
		filled += bytesRead;
	}
	return true;
}

function checkRange(file: string, tensor: string, unit: string, start: number, end: number, limit: number): void {
	if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end > limit) {
		throw new SafetensorsError("InvalidRange", file, `${unit} [${start}, ${end}) are outside [0, ${limit}]`, tensor);
	}
}

/** Plain words for the errno codes users meet most; others are shown as the bare code. */
const ERRNO_TEXT: Record<string, string> = {
	ENOENT: "no such file",
	EACCES: "permission denied",
	EISDIR: "is a directory",
	ENOTDIR: "a parent is not a directory",
	EMFILE: "too many open files",
};

function ioError(file: string, action: string, err: unknown): SafetensorsError {
	const code = (err as NodeJS.ErrnoException | undefined)?.code;
	const detail = code !== undefined ? `${ERRNO_TEXT[code] ?? "system error"} (${code})` : err instanceof Error ? err.message : String(err);
	return new SafetensorsError("IoError", file, `${action}: ${detail}`);
}
