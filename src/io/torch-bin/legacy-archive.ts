/**
 * The pre-1.6 `torch.save` format (still written with `_use_new_zipfile_serialization=False`): five pickles in a row
 * (magic number, protocol version, system info, the state dict, the list of storage keys), then each storage as a
 * little-endian int64 element count followed by its raw elements, in the order of that list. The pickles are read in
 * a window that grows until each one's STOP is found; storages are located with one 8-byte read each.
 */
import type { FileHandle } from "node:fs/promises";
import { TorchBinError } from "../../errors.js";
import { dtypeBytes } from "../dtypes.js";
import { MAX_PICKLE_BYTES } from "./limits.js";
import { readStateDict, type StateDict } from "./state-dict.js";
import { PickleTruncated, PyDict, unpickle } from "./unpickler.js";
import type { ZipRecord } from "./zip-archive.js";

/** The number torch writes first to mark its legacy format (torch/serialization.py MAGIC_NUMBER). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** The only legacy protocol version torch ever wrote. */
const LEGACY_PROTOCOL_VERSION = 1001;

/** First window read for the leading pickles; it grows ×4 (up to MAX_PICKLE_BYTES) while a pickle does not fit. */
const FIRST_WINDOW_BYTES = 1 << 20;

/** A pickle stream starting with PROTO 2, as every legacy checkpoint does. */
export function isLegacyStream(head: Uint8Array): boolean {
	return head.length >= 2 && head[0] === 0x80 && head[1] === 0x02;
}

/** A POSIX tar archive ("ustar" at offset 257): the format of PyTorch < 0.4. */
export function isTar(head: Uint8Array): boolean {
	return head.length >= 262 && new TextDecoder("latin1").decode(head.subarray(257, 262)) === "ustar";
}

/** Hooks for the data-only pickles of the legacy header: no globals, no persistent ids. */
function dataOnly(file: string, entry: string) {
	return {
		global: () => undefined,
		persistentLoad: (): never => {
			throw new TorchBinError("InvalidPickle", file, "a storage reference outside the state dict", entry);
		},
	};
}

/** Reads the header pickles and the storage table of a legacy checkpoint. */
export async function readLegacy(
	handle: FileHandle,
	fileSize: number,
	file: string,
): Promise<{ state: StateDict; records: Map<string, ZipRecord> }> {
	let window = new Uint8Array(0);
	let windowStart = 0;
	/** Runs `parse` on the bytes from `pos`, re-reading a larger window while the pickle is cut off. */
	const atPos = async <T extends { end: number }>(pos: number, parse: (bytes: Uint8Array, start: number) => T): Promise<T> => {
		for (let size = FIRST_WINDOW_BYTES; ; size *= 4) {
			const want = Math.min(fileSize - pos, size);
			if (windowStart !== pos || window.length < want) {
				window = new Uint8Array(want);
				windowStart = pos;
				await readFully(handle, window, pos, file);
			}
			try {
				const result = parse(window, 0);
				return { ...result, end: result.end + pos };
			} catch (err) {
				if (!(err instanceof PickleTruncated) || want >= fileSize - pos) throw err;
				if (size >= MAX_PICKLE_BYTES) throw new TorchBinError("LimitExceeded", file, `a pickle longer than ${MAX_PICKLE_BYTES} bytes`);
			}
		}
	};
	const plain = (entry: string) => (bytes: Uint8Array, start: number) => unpickle(bytes, start, dataOnly(file, entry), { file, entry });
	const magic = await atPos(0, plain("legacy magic number"));
	if (magic.value !== LEGACY_MAGIC) {
		throw new TorchBinError("NotACheckpoint", file, "a pickle, but not a torch.save checkpoint (the legacy magic number is missing)");
	}
	const version = await atPos(magic.end, plain("legacy protocol version"));
	if (version.value !== LEGACY_PROTOCOL_VERSION) {
		throw new TorchBinError(
			"UnsupportedFormat",
			file,
			`legacy protocol version ${String(version.value)} (only ${LEGACY_PROTOCOL_VERSION} exists)`,
		);
	}
	const sysInfo = await atPos(version.end, plain("legacy system info"));
	if (!(sysInfo.value instanceof PyDict) || sysInfo.value.map.get("little_endian") !== true) {
		throw new TorchBinError(
			"UnsupportedFormat",
			file,
			"written on a big-endian machine (sys_info.little_endian is not True); only little-endian checkpoints are read",
		);
	}
	const state = await atPos(sysInfo.end, (bytes, start) =>
		readStateDict(bytes, start, "legacy", { file, entry: "legacy state dict pickle" }),
	);
	const keysPickle = await atPos(state.end, plain("legacy storage key list"));
	const keys = keysPickle.value;
	if (!Array.isArray(keys) || !keys.every((k): k is string => typeof k === "string")) {
		throw new TorchBinError("InvalidPickle", file, "the storage key list is not a list of strings");
	}
	const records = new Map<string, ZipRecord>();
	let pos = keysPickle.end;
	const count = new Uint8Array(8);
	for (const key of keys) {
		const storage = state.storages.get(key);
		if (storage === undefined) throw new TorchBinError("InvalidPickle", file, `storage ${key} is listed but no tensor uses it`);
		if (records.has(key)) throw new TorchBinError("InvalidPickle", file, `storage ${key} is listed twice`);
		if (pos + 8 > fileSize) throw new TorchBinError("MissingStorage", file, `the file ends before storage ${key}`);
		await readFully(handle, count, pos, file);
		const numel = new DataView(count.buffer).getBigInt64(0, true);
		if (numel !== BigInt(storage.numel)) {
			throw new TorchBinError("InvalidTensor", file, `storage ${key} holds ${numel} elements, the pickle declares ${storage.numel}`);
		}
		const size = storage.numel * dtypeBytes(storage.dtype);
		if (pos + 8 + size > fileSize)
			throw new TorchBinError("MissingStorage", file, `storage ${key} (${size} bytes at ${pos + 8}) runs past the end of the file`);
		records.set(key, { name: `storage ${key}`, start: pos + 8, size });
		pos += 8 + size;
	}
	return { state: { ...state, end: pos }, records };
}

/** Fills `buf` from `position`; a short file is a TorchBinError "IoError". */
export async function readFully(handle: FileHandle, buf: Uint8Array, position: number, file: string): Promise<void> {
	let filled = 0;
	while (filled < buf.length) {
		let bytesRead: number;
		try {
			({ bytesRead } = await handle.read(buf, filled, buf.length - filled, position + filled));
		} catch (err) {
			throw new TorchBinError(
				"IoError",
				file,
				`cannot read ${buf.length - filled} bytes at offset ${position + filled}: ${(err as Error).message}`,
			);
		}
		if (bytesRead === 0) throw new TorchBinError("IoError", file, `unexpected end of file at offset ${position + filled}`);
		filled += bytesRead;
	}
}
