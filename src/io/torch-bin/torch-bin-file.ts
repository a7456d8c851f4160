/**
 * One PyTorch `.bin` checkpoint (`torch.save` of a state dict, zip or legacy format) as a TensorSource. Opening reads
 * the container directory and the pickle only, checks every tensor against its storage, and keeps the file open;
 * each read then fetches just the bytes it asks for with positioned reads, like the safetensors reader, so a
 * checkpoint larger than RAM merges tensor by tensor. Views that are not contiguous (transposes, slices, stride-0
 * expansions) are gathered element by element from the part of their storage a read covers.
 */
import { type FileHandle, open } from "node:fs/promises";
import { SafetensorsError, TorchBinError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { decodeToF32 } from "../convert.js";
import { dtypeBytes, type FloatDtype, isFloatDtype } from "../dtypes.js";
import type { TensorInfo, TensorSource } from "../types.js";
import { isLegacyStream, isTar, readFully, readLegacy } from "./legacy-archive.js";
import { MAX_PICKLE_BYTES } from "./limits.js";
import { readStateDict, type StateDict, type TensorLayout } from "./state-dict.js";
import { gatherStrided } from "./strided.js";
import { isZip, readTorchZip, type ZipRecord } from "./zip-archive.js";

/** Bytes read from the start of a file to tell zip, legacy pickle and tar apart (tar's magic sits at 257). */
const HEAD_BYTES = 512;

/** One open `.bin` checkpoint. */
export interface TorchBinFile extends TensorSource {
	/** "zip" (torch ≥ 1.6) or "legacy" (the older pickle stream). */
	readonly format: "zip" | "legacy";
	readonly size: number;
}

interface Located {
	info: TensorInfo;
	layout: TensorLayout;
	/** Absolute file offset of the tensor's storage. */
	storageStart: number;
}

/**
 * Opens and checks `path`. Throws TorchBinError: "NotACheckpoint", "UnsupportedFormat" (tar, big-endian, storage
 * views), "InvalidZip", "UnsafeZipEntry", "InvalidPickle", "UnsafePickle", "LimitExceeded", "MissingStorage",
 * "InvalidTensor", "IoError".
 */
export async function openTorchBin(path: string): Promise<TorchBinFile> {
	let handle: FileHandle;
	try {
		handle = await open(path, "r");
	} catch (err) {
		throw new TorchBinError("IoError", path, `cannot open: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
	}
	try {
		const stat = await handle.stat();
		if (!stat.isFile()) throw new TorchBinError("IoError", path, "is not a regular file");
		const head = new Uint8Array(Math.min(HEAD_BYTES, stat.size));
		await readFully(handle, head, 0, path);
		let state: StateDict;
		let records: Map<string, ZipRecord>;
		let format: "zip" | "legacy";
		if (isZip(head)) {
			format = "zip";
			({ state, records } = await readZipCheckpoint(handle, stat.size, path));
		} else if (isTar(head)) {
			throw new TorchBinError("UnsupportedFormat", path, "a tar checkpoint (PyTorch < 0.4); load and re-save it with a newer PyTorch");
		} else if (isLegacyStream(head)) {
			format = "legacy";
			({ state, records } = await readLegacy(handle, stat.size, path));
		} else {
			throw new TorchBinError("NotACheckpoint", path, "neither a torch.save zip nor a legacy torch.save stream");
		}
		return new TorchBinReader(path, handle, format, stat.size, locate(path, state, records));
	} catch (err) {
		await handle.close().catch(() => undefined);
		throw err;
	}
}

async function readZipCheckpoint(
	handle: FileHandle,
	size: number,
	file: string,
): Promise<{ state: StateDict; records: Map<string, ZipRecord> }> {
	const zip = await readTorchZip(handle, size, file);
	const byteorder = zip.records.get("byteorder");
	if (byteorder !== undefined && byteorder.size <= 16) {
		const text = new Uint8Array(byteorder.size);
		await readFully(handle, text, byteorder.start, file);
		const order = new TextDecoder().decode(text).trim();
		if (order !== "little")
			throw new TorchBinError(
				"UnsupportedFormat",
				file,
				`byteorder is "${order}"; only little-endian checkpoints are read`,
				`${zip.prefix}/byteorder`,
			);
	}
	const pkl = zip.records.get("data.pkl")!;
	const entry = `${zip.prefix}/data.pkl`;
	if (pkl.size > MAX_PICKLE_BYTES)
		throw new TorchBinError("LimitExceeded", file, `the pickle is ${pkl.size} bytes (at most ${MAX_PICKLE_BYTES})`, entry);
	const bytes = new Uint8Array(pkl.size);
	await readFully(handle, bytes, pkl.start, file);
	const state = readStateDict(bytes, 0, "zip", { file, entry });
	if (state.end !== bytes.length)
		throw new TorchBinError("InvalidPickle", file, `${bytes.length - state.end} bytes after the pickle's STOP`, entry);
	const records = new Map<string, ZipRecord>();
	for (const key of state.storages.keys()) {
		const record = zip.records.get(`data/${key}`);
		if (record === undefined)
			throw new TorchBinError("MissingStorage", file, `the pickle uses storage ${key}, but the zip has no entry ${zip.prefix}/data/${key}`);
		records.set(key, record);
	}
	return { state, records };
}

/** Checks each tensor against its storage record and computes its TensorInfo. */
function locate(file: string, state: StateDict, records: Map<string, ZipRecord>): Map<string, Located> {
	const out = new Map<string, Located>();
	for (const layout of state.tensors) {
		const storage = state.storages.get(layout.storageKey)!;
		const record = records.get(layout.storageKey)!;
		const declared = storage.numel * dtypeBytes(storage.dtype);
		if (record.size < declared) {
			throw new TorchBinError(
				"InvalidTensor",
				file,
				`storage ${storage.key} holds ${record.size} bytes, the pickle declares ${declared}`,
				layout.name,
			);
		}
		const el = dtypeBytes(layout.dtype);
		if (layout.extent * el > declared) {
			throw new TorchBinError(
				"InvalidTensor",
				file,
				`shape [${layout.shape.join(", ")}], strides [${layout.stride.join(", ")}] at offset ${layout.offset} ` +
					`reach element ${layout.extent} of a storage holding ${declared / el}`,
				layout.name,
			);
		}
		const info: TensorInfo = {
			name: layout.name,
			dtype: layout.dtype,
			shape: layout.shape,
			byteOffset: record.start + layout.offset * el,
			byteLength: layout.numel * el,
		};
		out.set(layout.name, { info, layout, storageStart: record.start });
	}
	return out;
}

class TorchBinReader implements TorchBinFile {
	private handle: FileHandle | undefined;

	constructor(
		readonly location: string,
		handle: FileHandle,
		readonly format: "zip" | "legacy",
		readonly size: number,
		private readonly tensors: Map<string, Located>,
	) {
		this.handle = handle;
	}

	names(): string[] {
		return [...this.tensors.keys()];
	}

	has(name: string): boolean {
		return this.tensors.has(name);
	}

	info(name: string): TensorInfo {
		return this.located(name).info;
	}

	fileOf(name: string): string {
		this.located(name);
		return this.location;
	}

	metadata(): Record<string, string> {
		return {};
	}

	async read(name: string): Promise<Tensor> {
		const { info } = this.located(name);
		return { shape: [...info.shape], data: decodeToF32(await this.readRaw(name), this.floatDtype(info)) };
	}

	async readRows(name: string, rowStart: number, rowEnd: number): Promise<Tensor> {
		const { info } = this.located(name);
		const dtype = this.floatDtype(info);
		const [rows, ...rest] = info.shape.length === 0 ? [1] : info.shape;
		if (!Number.isSafeInteger(rowStart) || !Number.isSafeInteger(rowEnd) || rowStart < 0 || rowStart > rowEnd || rowEnd > (rows ?? 1)) {
			throw new SafetensorsError("InvalidRange", this.location, `rows [${rowStart}, ${rowEnd}) are outside [0, ${rows ?? 1}]`, name);
		}
		const rowBytes = rest.reduce((a, d) => a * d, dtypeBytes(dtype));
		return {
			shape: [rowEnd - rowStart, ...rest],
			data: decodeToF32(await this.readRaw(name, rowStart * rowBytes, rowEnd * rowBytes), dtype),
		};
	}

	async readRaw(name: string, start = 0, end?: number, into?: Uint8Array): Promise<Uint8Array> {
		const { info, layout, storageStart } = this.located(name);
		const stop = end ?? info.byteLength;
		const el = dtypeBytes(info.dtype);
		if (!Number.isSafeInteger(start) || !Number.isSafeInteger(stop) || start < 0 || start > stop || stop > info.byteLength) {
			throw new SafetensorsError("InvalidRange", this.location, `bytes [${start}, ${stop}) are outside [0, ${info.byteLength}]`, name);
		}
		if (into !== undefined && into.byteLength !== stop - start) {
			throw new SafetensorsError(
				"InvalidRange",
				this.location,
				`readRaw target holds ${into.byteLength} bytes for a range of ${stop - start}`,
				name,
			);
		}
		const out = into ?? new Uint8Array(stop - start);
		if (layout.contiguous) {
			await readFully(this.open(), out, info.byteOffset + start, this.location);
			return out;
		}
		if (start % el !== 0 || stop % el !== 0) {
			throw new SafetensorsError(
				"InvalidRange",
				this.location,
				`bytes [${start}, ${stop}) of a strided view must be whole ${el}-byte elements`,
				name,
			);
		}
		await gatherStrided(layout, el, start / el, stop / el, out, (buf, elementIndex) =>
			readFully(this.open(), buf, storageStart + elementIndex * el, this.location),
		);
		return out;
	}

	async close(): Promise<void> {
		const handle = this.handle;
		this.handle = undefined;
		await handle?.close();
	}

	private located(name: string): Located {
		const t = this.tensors.get(name);
		if (t === undefined) throw new SafetensorsError("TensorNotFound", this.location, "no tensor with this name in the checkpoint", name);
		return t;
	}

	private floatDtype(info: TensorInfo): FloatDtype {
		if (!isFloatDtype(info.dtype))
			throw new SafetensorsError("UnsupportedDtype", this.location, `unsupported dtype for merging: ${info.dtype}`, info.name);
		return info.dtype;
	}

	private open(): FileHandle {
		if (this.handle === undefined) throw new TorchBinError("IoError", this.location, "file was already closed");
		return this.handle;
	}
}
