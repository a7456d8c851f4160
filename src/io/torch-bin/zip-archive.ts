/**
 * The zip container of `torch.save` (PyTorch ≥ 1.6): `<prefix>/data.pkl`, one STORED record per storage
 * `<prefix>/data/<key>`, and small metadata entries (`version`, `byteorder`, ...). The central directory is read with
 * yauzl (ZIP64, file-name validation and entry-size checks are its job); entries must then be uncompressed, unique,
 * under one top-level folder and inside the file, so every record can be read later with positioned reads on our own
 * FileHandle without ever inflating anything (so a zip bomb has nothing to expand).
 */
import type { FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { type Entry, fromRandomAccessReaderPromise, RandomAccessReader, type ZipFile } from "yauzl";
import { TorchBinError } from "../../errors.js";
import { MAX_ZIP_ENTRIES } from "./limits.js";

/** Where one entry's bytes are in the file. */
export interface ZipRecord {
	name: string;
	/** Absolute file offset of the first data byte. */
	start: number;
	size: number;
}

/** The entries of a torch zip, by name relative to the top-level folder (`data.pkl`, `data/0`, `byteorder`). */
interface TorchZip {
	prefix: string;
	records: Map<string, ZipRecord>;
}

/** The zip signature at offset 0 (a local file header), as torch.load's `_is_zipfile` checks it. */
export function isZip(head: Uint8Array): boolean {
	return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/**
 * yauzl reads the directory through our FileHandle. (Its own fromFd() would close the descriptor on close(), under
 * the FileHandle that owns it; this reader's close() leaves the handle to its owner.)
 */
class HandleReader extends RandomAccessReader {
	constructor(private readonly handle: FileHandle) {
		super();
	}

	override read(
		buffer: Buffer,
		offset: number,
		length: number,
		position: number,
		callback: (err: Error | null, bytesRead?: number) => void,
	): void {
		this.handle.read(buffer, offset, length, position).then(
			({ bytesRead }) => callback(null, bytesRead),
			(err: Error) => callback(err),
		);
	}

	/** Entry streams are never opened (records are read with positioned reads), but yauzl requires the method. */
	override _readStreamForRange(start: number, end: number): Readable {
		const handle = this.handle;
		return Readable.from(
			(async function* () {
				const buf = Buffer.alloc(end - start);
				const { bytesRead } = await handle.read(buf, 0, buf.length, start);
				yield buf.subarray(0, bytesRead);
			})(),
		);
	}

	override close(callback: (err: Error | null) => void): void {
		setImmediate(() => callback(null));
	}
}

/** yauzl's file-name validation messages that mean "this entry would escape its folder". */
const UNSAFE_NAME_RE = /absolute path|invalid relative path|invalid characters in fileName/;

/** Reads and checks the directory of the zip open as `handle` (size `fileSize`); the handle stays open. */
export async function readTorchZip(handle: FileHandle, fileSize: number, file: string): Promise<TorchZip> {
	let zip: ZipFile;
	try {
		zip = await fromRandomAccessReaderPromise(new HandleReader(handle), fileSize, {
			autoClose: false,
			decodeStrings: true,
			validateEntrySizes: true,
			strictFileNames: true,
		});
	} catch (err) {
		throw zipError(file, err);
	}
	try {
		if (zip.entryCount > MAX_ZIP_ENTRIES) {
			throw new TorchBinError("LimitExceeded", file, `the zip lists ${zip.entryCount} entries (at most ${MAX_ZIP_ENTRIES})`);
		}
		const records = new Map<string, ZipRecord>();
		let prefix: string | undefined;
		try {
			for await (const entry of zip.eachEntry()) {
				if (entry.fileName.endsWith("/")) continue; // a folder entry holds no data
				const slash = entry.fileName.indexOf("/");
				const top = slash < 0 ? "" : entry.fileName.slice(0, slash);
				prefix ??= top;
				if (top === "" || top !== prefix) {
					throw new TorchBinError(
						"UnsafeZipEntry",
						file,
						`entry "${entry.fileName}" is not inside the checkpoint's single top-level folder "${prefix}/"`,
					);
				}
				const name = entry.fileName.slice(slash + 1);
				if (records.has(name)) throw new TorchBinError("UnsafeZipEntry", file, `entry "${entry.fileName}" appears twice in the zip`);
				records.set(name, await recordOf(zip, entry, fileSize, file));
			}
		} catch (err) {
			throw err instanceof TorchBinError ? err : zipError(file, err);
		}
		if (prefix === undefined || !records.has("data.pkl")) {
			throw new TorchBinError("NotACheckpoint", file, "a zip without a data.pkl entry: not a torch.save checkpoint");
		}
		return { prefix, records };
	} finally {
		zip.close();
	}
}

async function recordOf(zip: ZipFile, entry: Entry, fileSize: number, file: string): Promise<ZipRecord> {
	if (entry.compressionMethod !== 0 || entry.isEncrypted()) {
		throw new TorchBinError(
			"UnsafeZipEntry",
			file,
			`entry "${entry.fileName}" is ${entry.isEncrypted() ? "encrypted" : "compressed"}; ` +
				`torch.save stores every entry uncompressed, and nothing is inflated here`,
		);
	}
	if (entry.compressedSize !== entry.uncompressedSize) {
		throw new TorchBinError(
			"InvalidZip",
			file,
			`entry "${entry.fileName}" is stored with ${entry.compressedSize} bytes but claims ${entry.uncompressedSize}`,
		);
	}
	const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
	if (fileDataStart + entry.compressedSize > fileSize) {
		throw new TorchBinError(
			"InvalidZip",
			file,
			`entry "${entry.fileName}" ends at byte ${fileDataStart + entry.compressedSize}, past the end of the ${fileSize}-byte file`,
		);
	}
	return { name: entry.fileName, start: fileDataStart, size: entry.compressedSize };
}

function zipError(file: string, err: unknown): TorchBinError {
	const message = err instanceof Error ? err.message : String(err);
	return new TorchBinError(UNSAFE_NAME_RE.test(message) ? "UnsafeZipEntry" : "InvalidZip", file, `not a valid zip: ${message}`);
}
