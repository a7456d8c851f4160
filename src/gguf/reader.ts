/**
 * Reads a GGUF file's header, metadata and tensor infos (for `merge inspect`, tests and checks of exported
 * files), validating every field against the file's size before trusting it; tensor data is read on demand
 * and can be dequantized to float32 for the types this project knows. Every failure is a GgufError naming
 * the file, the field or tensor and the bad value.
 */
import { type FileHandle, open } from "node:fs/promises";
import { GgufError } from "../errors.js";
import { GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, type GgmlType, ggmlRowBytes, ggmlTypeName } from "./constants.js";
import { decodeRows, hasCodec } from "./encode.js";
import type { GgufMetadata } from "./metadata.js";
import { readHeaderFields } from "./reader-fields.js";

/** One tensor of a GGUF file as its header describes it: name, shape, ggml type and where its bytes lie. */
interface GgufTensorInfo {
	name: string;
	/** Innermost first (ggml's ne). */
	dims: number[];
	type: GgmlType;
	/** Offset from the start of the data section. */
	offset: number;
	byteLength: number;
}

/** An open GGUF file: its header fields, metadata and tensor list (validated), and readers for tensor data. */
interface GgufFile {
	path: string;
	version: number;
	metadata: GgufMetadata;
	tensors: GgufTensorInfo[];
	alignment: number;
	dataStart: number;
	fileSize: number;
	/** The raw bytes of one tensor. */
	readRaw(name: string): Promise<Uint8Array>;
	/** One tensor dequantized to float32 (row-major, rows of dims[0] values). */
	readF32(name: string): Promise<Float32Array>;
	/** Closes the file. */
	close(): Promise<void>;
}

/** Header reads grow in steps of this size until the tensor infos are complete. */
const HEADER_READ_STEP = 4 * 2 ** 20;

/**
 * Largest header (metadata + tensor infos) accepted: a 256k-token vocabulary takes ~5 MB, so 512 MB means
 * a corrupt count rather than a real file, and refusing it keeps a bad file from exhausting memory.
 */
const MAX_GGUF_HEADER_BYTES = 512 * 2 ** 20;

/** Opens a GGUF file and validates its header, metadata and tensor infos; GgufError (naming the field) if invalid. */
export async function openGguf(path: string): Promise<GgufFile> {
	let handle: FileHandle;
	try {
		handle = await open(path, "r");
	} catch (err) {
		throw new GgufError("Truncated", path, `cannot open: ${(err as Error).message}`);
	}
	try {
		const fileSize = (await handle.stat()).size;
		let buf = new Uint8Array(0);
		const grow = async (need: number): Promise<Uint8Array> => {
			if (need > fileSize) throw new GgufError("Truncated", path, `the header runs past the end of the ${fileSize}-byte file`);
			if (need > MAX_GGUF_HEADER_BYTES)
				throw new GgufError("InvalidMetadata", path, `the header would exceed ${MAX_GGUF_HEADER_BYTES} bytes`);
			const size = Math.min(fileSize, Math.max(need, buf.byteLength + HEADER_READ_STEP));
			const next = new Uint8Array(size);
			next.set(buf);
			await handle.read(next, buf.byteLength, size - buf.byteLength, buf.byteLength);
			buf = next;
			return buf;
		};
		await grow(Math.min(fileSize, HEADER_READ_STEP));
		if (fileSize < 8) throw new GgufError("Truncated", path, `${fileSize} bytes is too short for a GGUF header`);
		const magic = new DataView(buf.buffer).getUint32(0, true);
		if (magic !== GGUF_MAGIC) {
			throw new GgufError(
				"BadMagic",
				path,
				`not a GGUF file (starts with ${JSON.stringify(new TextDecoder("latin1").decode(buf.subarray(0, 4)))}, not "GGUF")`,
			);
		}
		const fields = await readHeaderFields(path, fileSize, () => buf, grow);
		const alignmentValue = fields.metadata.get("general.alignment");
		let alignment = GGUF_DEFAULT_ALIGNMENT;
		if (alignmentValue !== undefined) {
			if (alignmentValue.kind !== "uint32" || alignmentValue.value === 0 || (alignmentValue.value & (alignmentValue.value - 1)) !== 0) {
				throw new GgufError(
					"BadAlignment",
					path,
					`general.alignment must be a power of two (uint32), got ${JSON.stringify(alignmentValue.value)}`,
				);
			}
			alignment = alignmentValue.value;
		}
		const dataStart = Math.ceil(fields.headerBytes / alignment) * alignment;
		const tensors: GgufTensorInfo[] = [];
		const seen = new Set<string>();
		for (const t of fields.tensors) {
			const type = ggmlTypeName(t.typeId);
			if (type === undefined) throw new GgufError("InvalidTensorInfo", path, `unknown ggml type ${t.typeId}`, t.name);
			if (seen.has(t.name)) throw new GgufError("InvalidTensorInfo", path, "appears twice", t.name);
			seen.add(t.name);
			if (t.offset % alignment !== 0)
				throw new GgufError("BadAlignment", path, `data offset ${t.offset} is not a multiple of the alignment ${alignment}`, t.name);
			const rowBytes = ggmlRowBytes(type, t.dims[0] ?? 1);
			if (rowBytes === undefined)
				throw new GgufError(
					"InvalidTensorInfo",
					path,
					`rows of ${t.dims[0]} values are not whole ${type} blocks of ${GGML_TYPES[type].block}`,
					t.name,
				);
			const byteLength = t.dims.slice(1).reduce((n, d) => n * d, rowBytes);
			if (!Number.isSafeInteger(byteLength) || dataStart + t.offset + byteLength > fileSize) {
				throw new GgufError(
					"Truncated",
					path,
					`data [${t.offset}, ${t.offset + byteLength}) after offset ${dataStart} runs past the end of the ${fileSize}-byte file`,
					t.name,
				);
			}
			tensors.push({ name: t.name, dims: t.dims, type, offset: t.offset, byteLength });
		}
		const byName = new Map(tensors.map((t) => [t.name, t]));
		const info = (name: string): GgufTensorInfo => {
			const t = byName.get(name);
			if (t === undefined) throw new GgufError("InvalidTensorInfo", path, "no tensor with this name", name);
			return t;
		};
		const readRaw = async (name: string): Promise<Uint8Array> => {
			const t = info(name);
			const out = new Uint8Array(t.byteLength);
			const { bytesRead } = await handle.read(out, 0, t.byteLength, dataStart + t.offset);
			if (bytesRead !== t.byteLength) throw new GgufError("Truncated", path, `read ${bytesRead} of ${t.byteLength} bytes`, name);
			return out;
		};
		return {
			path,
			version: fields.version,
			metadata: fields.metadata,
			tensors,
			alignment,
			dataStart,
			fileSize,
			readRaw,
			async readF32(name) {
				const t = info(name);
				if (!hasCodec(t.type)) throw new GgufError("InvalidTensorInfo", path, `cannot dequantize ${t.type}`, name);
				return decodeRows(t.type, await readRaw(name));
			},
			close: () => handle.close(),
		};
	} catch (err) {
		await handle.close();
		throw err;
	}
}
