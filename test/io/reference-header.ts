/**
 * The header reader as it was before the one-pass parser (src/io/header-parser.ts): the strict JSON tree of
 * header-json.ts, then the fields, then the layout. Slow on big headers (it builds a tree and concatenates escapes
 * one by one) but simple; kept here as the reference the fuzz and differential tests compare the fast reader to.
 * Every rejection must have the same kind, tensor and order of precedence in both.
 */
import { SafetensorsError } from "../../src/errors.js";
import { DTYPES, type Dtype, isDtype } from "../../src/io/dtypes.js";
import { LENGTH_PREFIX_BYTES, readHeaderLength } from "../../src/io/header.js";
import { type JsonValue, parseStrictJson } from "../../src/io/header-json.js";
import type { SafetensorsHeader, TensorInfo } from "../../src/io/types.js";
import { formatShape } from "../../src/tensor/tensor.js";

/** The key that holds the free-form string map instead of a tensor. */
const METADATA_KEY = "__metadata__";

/** One tensor entry as written in the header, before the layout checks. */
interface HeaderEntry {
	name: string;
	dtype: Dtype;
	shape: number[];
	begin: number;
	end: number;
}

/** A plain non-negative decimal integer: no sign, no fraction, no exponent (JSON forbids leading zeros). */
const PLAIN_INTEGER_RE = /^(?:0|[1-9][0-9]*)$/;

/**
 * Reads the root object: tensors in document order, and the metadata ({} when absent).
 * Throws SafetensorsError kinds "InvalidHeaderDeserialization", "DuplicateTensor", "InvalidMetadata".
 */
function readHeaderFields(root: JsonValue, file: string): { entries: HeaderEntry[]; metadata: Record<string, string> } {
	if (root.type !== "object") {
		throw new SafetensorsError("InvalidHeaderDeserialization", file, `header must be a JSON object, got ${root.type}`);
	}
	const entries: HeaderEntry[] = [];
	const seen = new Set<string>();
	let metadata: Record<string, string> | undefined;
	for (const [key, value] of root.entries) {
		if (key === METADATA_KEY) {
			if (metadata !== undefined) {
				throw new SafetensorsError("InvalidHeaderDeserialization", file, `duplicate field "${METADATA_KEY}"`);
			}
			metadata = readMetadata(value, file);
			continue;
		}
		if (seen.has(key)) {
			throw new SafetensorsError("DuplicateTensor", file, "tensor name appears twice in the header", key);
		}
		seen.add(key);
		entries.push(readEntry(key, value, file));
	}
	return { entries, metadata: metadata ?? {} };
}

function readMetadata(value: JsonValue, file: string): Record<string, string> {
	if (value.type !== "object") {
		throw new SafetensorsError("InvalidMetadata", file, `"${METADATA_KEY}" must be an object of strings, got ${value.type}`);
	}
	const metadata: Record<string, string> = {};
	for (const [key, v] of value.entries) {
		if (v.type !== "string") {
			const looksLikeTensor = value.entries.some(([k]) => k === "dtype" || k === "shape" || k === "data_offsets");
			const why = looksLikeTensor ? " (a tensor cannot be named __metadata__)" : "";
			throw new SafetensorsError("InvalidMetadata", file, `"${METADATA_KEY}" value for key "${key}" must be a string, got ${v.type}${why}`);
		}
		if (Object.hasOwn(metadata, key)) {
			throw new SafetensorsError("InvalidMetadata", file, `"${METADATA_KEY}" has the key "${key}" twice`);
		}
		// defineProperty, so that a key such as "__proto__" is stored as data rather than calling a setter.
		Object.defineProperty(metadata, key, { value: v.value, enumerable: true, writable: true, configurable: true });
	}
	return metadata;
}

function readEntry(name: string, value: JsonValue, file: string): HeaderEntry {
	if (value.type !== "object") {
		throw entryError(file, name, `entry must be an object with dtype, shape and data_offsets, got ${value.type}`);
	}
	let dtype: JsonValue | undefined;
	let shape: JsonValue | undefined;
	let offsets: JsonValue | undefined;
	for (const [key, v] of value.entries) {
		const duplicate = (key === "dtype" && dtype) || (key === "shape" && shape) || (key === "data_offsets" && offsets);
		if (duplicate) throw entryError(file, name, `duplicate field "${key}"`);
		if (key === "dtype") dtype = v;
		else if (key === "shape") shape = v;
		else if (key === "data_offsets") offsets = v;
		// Any other field is ignored, as the reference does (forward compatibility).
	}
	if (dtype === undefined || shape === undefined || offsets === undefined) {
		const missing = [dtype === undefined && "dtype", shape === undefined && "shape", offsets === undefined && "data_offsets"].filter(
			Boolean,
		);
		throw entryError(file, name, `missing field ${missing.map((f) => `"${f}"`).join(", ")}`);
	}
	if (dtype.type !== "string") throw entryError(file, name, `dtype must be a string, got ${dtype.type}`);
	if (!isDtype(dtype.value)) throw entryError(file, name, `unknown dtype ${JSON.stringify(dtype.value)}`);
	if (shape.type !== "array") throw entryError(file, name, `shape must be an array, got ${shape.type}`);
	if (offsets.type !== "array" || offsets.items.length !== 2) {
		const got = offsets.type === "array" ? `${offsets.items.length} items` : offsets.type;
		throw entryError(file, name, `data_offsets must be an array of exactly 2 integers, got ${got}`);
	}
	const dims: number[] = [];
	for (const d of shape.items) dims.push(readInteger(d, "shape", file, name));
	const begin = readInteger(offsets.items[0]!, "data_offsets", file, name);
	const end = readInteger(offsets.items[1]!, "data_offsets", file, name);
	return { name, dtype: dtype.value, shape: dims, begin, end };
}

/** A number lexeme that is a plain integer in [0, 2^53 − 1], the range a JS number holds exactly. */
function readInteger(v: JsonValue, field: string, file: string, tensor: string): number {
	if (v.type !== "number") {
		throw entryError(file, tensor, `${field} must hold integers, got ${v.type}`);
	}
	const lexeme = v.lexeme;
	if (!PLAIN_INTEGER_RE.test(lexeme)) {
		throw entryError(file, tensor, `${field} must hold plain non-negative integers, got ${lexeme}`);
	}
	const n = Number(lexeme);
	if (n > Number.MAX_SAFE_INTEGER) {
		throw entryError(file, tensor, `${field} value ${lexeme} is above 2^53 - 1`);
	}
	return n;
}

function entryError(file: string, tensor: string, message: string): SafetensorsError {
	return new SafetensorsError("InvalidHeaderDeserialization", file, message, tensor);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** parseHeader as it was: same contract as src/io/header.ts parseHeader. */
export function referenceParseHeader(prefixAndHeader: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
	const length = readHeaderLength(prefixAndHeader, fileSize, file);
	const dataStart = LENGTH_PREFIX_BYTES + length;
	if (prefixAndHeader.length < dataStart) {
		throw new SafetensorsError(
			"InvalidHeaderLength",
			file,
			`header length ${length} needs ${dataStart} bytes, only ${prefixAndHeader.length} were given`,
		);
	}
	let text: string;
	try {
		text = utf8.decode(prefixAndHeader.subarray(LENGTH_PREFIX_BYTES, dataStart));
	} catch {
		throw new SafetensorsError("InvalidHeaderUtf8", file, "header is not valid UTF-8");
	}
	if (text.charCodeAt(0) === 0xfeff) {
		throw new SafetensorsError("InvalidHeaderJson", file, "header starts with a byte-order mark (U+FEFF)");
	}
	const { entries, metadata } = readHeaderFields(parseStrictJson(text, file), file);
	return { tensors: validateLayout(entries, fileSize - dataStart, file), metadata, dataStart };
}

function validateLayout(entries: HeaderEntry[], dataBytes: number, file: string): Map<string, TensorInfo> {
	const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
	const tensors = new Map<string, TensorInfo>();
	let expectedBegin = 0;
	for (const { name, dtype, shape, begin, end } of sorted) {
		if (begin !== expectedBegin || end < begin) {
			throw new SafetensorsError("InvalidOffset", file, `data_offsets [${begin}, ${end}] are invalid`, name);
		}
		expectedBegin = end;
		const count = checkedProduct(shape, 1, file, name);
		const bits = checkedProduct([count], DTYPES[dtype].bits, file, name);
		if (bits % 8 !== 0) throw new SafetensorsError("MisalignedSlice", file, `${dtype} shape ${formatShape(shape)} is ${bits} bits`, name);
		if (end - begin !== bits / 8)
			throw new SafetensorsError("TensorInvalidInfo", file, `data_offsets [${begin}, ${end}] disagree with the shape`, name);
		tensors.set(name, { name, dtype, shape, byteOffset: begin, byteLength: bits / 8 });
	}
	if (expectedBegin !== dataBytes)
		throw new SafetensorsError("MetadataIncompleteBuffer", file, `tensors cover ${expectedBegin} of ${dataBytes} data bytes`);
	return tensors;
}

function checkedProduct(factors: readonly number[], start: number, file: string, tensor: string): number {
	let acc = start;
	for (const f of factors) {
		if (f !== 0 && acc > Math.floor(Number.MAX_SAFE_INTEGER / f))
			throw new SafetensorsError("ValidationOverflow", file, "size above 2^53 - 1", tensor);
		acc *= f;
	}
	return acc;
}
