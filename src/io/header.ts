/**
 * Safetensors header parsing and validation, pure (no fs). The checks run in the order of the reference
 * crate (`SafeTensors::read_metadata` then `Metadata::validate`), so that nothing is allocated from a
 * value that has not been checked yet: length prefix, size cap, bounds, UTF-8, JSON, entries, layout.
 * docs/safetensors.md lists every rejection and its error kind.
 */
import { isUtf8 } from "node:buffer";
import { SafetensorsError } from "../errors.js";
import { formatShape } from "../tensor/tensor.js";
import { DTYPES } from "./dtypes.js";
import { parseHeaderJson } from "./header-parser.js";
import type { SafetensorsHeader, TensorInfo } from "./types.js";

/**
 * Default cap on the JSON header length. It is the reference crate's MAX_HEADER_SIZE: headers above it are
 * rejected before any allocation, so a hostile length prefix cannot make us reserve gigabytes. Real files
 * with a million tensors can exceed it (safetensors issue #668); raise it with `maxHeaderBytes`.
 */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Highest value `maxHeaderBytes` may take: V8's longest string (2^29 − 24 UTF-16 units). A longer
 * header could not be decoded to text at all, so a larger cap would only move the failure elsewhere.
 */
const ABSOLUTE_MAX_HEADER_BYTES = 536_870_888;

/** Size of the little-endian u64 header-length prefix that starts every file. */
export const LENGTH_PREFIX_BYTES = 8;

/** Options for header reading. */
export interface HeaderOptions {
	/** Largest accepted JSON header, in bytes (default MAX_HEADER_BYTES, at most ABSOLUTE_MAX_HEADER_BYTES). */
	maxHeaderBytes?: number;
}

/**
 * Checks the 8-byte length prefix against the cap and the file size, and returns the header length N.
 * Call it before allocating the N-byte header buffer. Throws SafetensorsError kinds "HeaderTooSmall",
 * "HeaderTooLarge", "InvalidHeaderLength"; a bad `maxHeaderBytes` is a RangeError (a caller bug).
 */
export function readHeaderLength(first8: Uint8Array, fileSize: number, file: string, opts: HeaderOptions = {}): number {
	const cap = resolveCap(opts);
	if (first8.length < LENGTH_PREFIX_BYTES || fileSize < LENGTH_PREFIX_BYTES) {
		const have = Math.min(first8.length, fileSize);
		throw new SafetensorsError("HeaderTooSmall", file, `file has ${have} bytes, fewer than the ${LENGTH_PREFIX_BYTES}-byte length prefix`);
	}
	const n = new DataView(first8.buffer, first8.byteOffset, LENGTH_PREFIX_BYTES).getBigUint64(0, true);
	if (n > BigInt(cap)) {
		throw new SafetensorsError("HeaderTooLarge", file, `header length ${n} bytes is above the limit of ${cap} bytes (maxHeaderBytes)`);
	}
	const length = Number(n);
	if (length > fileSize - LENGTH_PREFIX_BYTES) {
		throw new SafetensorsError("InvalidHeaderLength", file, `header length ${length} bytes runs past the end of the ${fileSize}-byte file`);
	}
	return length;
}

/**
 * Parses and fully validates a header. `prefixAndHeader` holds the first 8 + N bytes of the file (more is
 * fine); `fileSize` is the length of the whole file. Tensors come back in data-offset order.
 */
export function parseHeader(prefixAndHeader: Uint8Array, fileSize: number, file: string, opts: HeaderOptions = {}): SafetensorsHeader {
	const length = readHeaderLength(prefixAndHeader, fileSize, file, opts);
	const dataStart = LENGTH_PREFIX_BYTES + length;
	if (prefixAndHeader.length < dataStart) {
		throw new SafetensorsError(
			"InvalidHeaderLength",
			file,
			`header length ${length} needs ${dataStart} bytes, only ${prefixAndHeader.length} were given`,
		);
	}
	const json = prefixAndHeader.subarray(LENGTH_PREFIX_BYTES, dataStart);
	// Checked on the whole header first (natively), so an invalid byte anywhere is reported as such, whatever else is wrong.
	if (!isUtf8(json)) {
		throw new SafetensorsError("InvalidHeaderUtf8", file, "header is not valid UTF-8");
	}
	if (json[0] === 0xef && json[1] === 0xbb && json[2] === 0xbf) {
		throw new SafetensorsError("InvalidHeaderJson", file, "header starts with a byte-order mark (U+FEFF)");
	}
	const { tensors: entries, metadata } = parseHeaderJson(json, file);
	const tensors = validateLayout(entries, fileSize - dataStart, file);
	return { tensors, metadata, dataStart };
}

/**
 * The reference's `validate()`: entries sorted by offsets must tile the data section from 0 with no gap or
 * overlap, each one exactly as long as its dtype and shape say, and the last one must end the file. `entries`
 * come from parseHeaderJson (document order, byteLength = end − begin as written); they are returned in offset
 * order, the same objects (and the same map when the document was already in offset order, as written files are).
 */
function validateLayout(entries: Map<string, TensorInfo>, dataBytes: number, file: string): Map<string, TensorInfo> {
	const list = [...entries.values()];
	const before = (a: TensorInfo, b: TensorInfo) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength;
	let ordered = true;
	for (let i = 1; i < list.length && ordered; i++) ordered = before(list[i - 1]!, list[i]!) <= 0;
	if (!ordered) list.sort(before);
	let expectedBegin = 0;
	for (const info of list) {
		const { name, dtype, shape, byteOffset: begin } = info;
		const end = begin + info.byteLength;
		if (begin !== expectedBegin || end < begin) {
			const why = end < begin ? "end is before begin" : `expected the tensor to start at ${expectedBegin}`;
			throw new SafetensorsError(
				"InvalidOffset",
				file,
				`data_offsets [${begin}, ${end}] are invalid: ${why} (gap, overlap or out of order)`,
				name,
			);
		}
		expectedBegin = end;
		const count = checkedProduct(shape, 1, file, name, `element count of shape ${formatShape(shape)}`);
		const bits = checkedProduct([count], DTYPES[dtype].bits, file, name, `bit size of ${dtype} shape ${formatShape(shape)}`);
		if (bits % 8 !== 0) {
			throw new SafetensorsError(
				"MisalignedSlice",
				file,
				`${dtype} shape ${formatShape(shape)} is ${bits} bits, not a whole number of bytes`,
				name,
			);
		}
		const bytes = bits / 8;
		if (end - begin !== bytes) {
			throw new SafetensorsError(
				"TensorInvalidInfo",
				file,
				`data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dtype} shape ${formatShape(shape)} needs ${bytes}`,
				name,
			);
		}
	}
	if (expectedBegin !== dataBytes) {
		throw new SafetensorsError(
			"MetadataIncompleteBuffer",
			file,
			`tensors cover ${expectedBegin} data bytes, but the file has ${dataBytes} bytes after the header`,
		);
	}
	if (ordered) return entries;
	const sorted = new Map<string, TensorInfo>();
	for (const t of list) sorted.set(t.name, t);
	return sorted;
}

/** start × Π factors, failing as soon as a partial product passes 2^53 − 1 (the reference's checked_mul). */
function checkedProduct(factors: readonly number[], start: number, file: string, tensor: string, what: string): number {
	let acc = start;
	for (const f of factors) {
		if (f !== 0 && acc > Math.floor(Number.MAX_SAFE_INTEGER / f)) {
			throw new SafetensorsError("ValidationOverflow", file, `${what} is above 2^53 - 1`, tensor);
		}
		acc *= f;
	}
	return acc;
}

function resolveCap(opts: HeaderOptions): number {
	const cap = opts.maxHeaderBytes ?? MAX_HEADER_BYTES;
	if (!Number.isSafeInteger(cap) || cap < 0 || cap > ABSOLUTE_MAX_HEADER_BYTES) {
		throw new RangeError(`maxHeaderBytes must be an integer in [0, ${ABSOLUTE_MAX_HEADER_BYTES}], got ${cap}`);
	}
	return cap;
}
