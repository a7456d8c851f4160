/**
 * Where every byte of an output file goes, computed before any tensor data exists: the padded header and
 * the contiguous data offsets of one file (as safetensors' `prepare()` does), the split of a model into
 * shards (mergekit's rule) and the shard file names. Pure: no fs.
 */
import { SafetensorsError, UsageError } from "../errors.js";
import { formatShape } from "../tensor/tensor.js";
import { DTYPES, type Dtype, isDtype } from "./dtypes.js";
import { LENGTH_PREFIX_BYTES, MAX_HEADER_BYTES } from "./header.js";
import type { TensorInfo } from "./types.js";

/** One tensor to lay out: what the header says about it. */
export interface LayoutEntry {
	name: string;
	dtype: Dtype;
	shape: readonly number[];
}

/** The result of layoutTensors: everything needed to write the file in one pass. */
export interface FileLayout {
	/** The 8-byte little-endian length prefix plus the JSON, space-padded so its length is a multiple of 8. */
	header: Uint8Array;
	/** The entries with their offsets, in the given order (offsets relative to the data section). */
	tensors: TensorInfo[];
	/** Absolute file offset of the data section (= header.byteLength). */
	dataStart: number;
	/** Total file size in bytes. */
	fileSize: number;
}

/** Options of layoutTensors. */
export interface LayoutOptions {
	/** The file named in error messages. */
	file?: string;
	/** Largest JSON header accepted (default MAX_HEADER_BYTES, the same cap readers apply). */
	maxHeaderBytes?: number;
}

/**
 * Safetensors pads the header with spaces so that the data section starts at a multiple of this many
 * bytes; every dtype up to 8 bytes is then aligned in the file when its offset is.
 */
const HEADER_ALIGNMENT = 8;

const encoder = new TextEncoder();

/** Size in bytes of a tensor; throws SafetensorsError for shapes that are not valid or overflow. */
export function tensorByteLength(entry: LayoutEntry, file: string): number {
	if (!isDtype(entry.dtype)) {
		throw new SafetensorsError("UnsupportedDtype", file, `unknown dtype ${JSON.stringify(entry.dtype)}`, entry.name);
	}
	let numel = 1;
	for (const d of entry.shape) {
		if (!Number.isSafeInteger(d) || d < 0) {
			throw new SafetensorsError(
				"TensorInvalidInfo",
				file,
				`shape ${formatShape(entry.shape)} has a dimension that is not a non-negative integer: ${d}`,
				entry.name,
			);
		}
		numel *= d;
	}
	const bits = numel * DTYPES[entry.dtype].bits;
	if (!Number.isSafeInteger(bits)) {
		throw new SafetensorsError("ValidationOverflow", file, `shape ${formatShape(entry.shape)} of ${entry.dtype} is too large`, entry.name);
	}
	if (bits % 8 !== 0) {
		throw new SafetensorsError("MisalignedSlice", file, `${numel} elements of ${entry.dtype} do not fill whole bytes`, entry.name);
	}
	return bits / 8;
}

/**
 * Lays tensors out contiguously in the given order and builds the header: `__metadata__` first (omitted
 * when `metadata` is undefined), then the tensors. Refuses the name `__metadata__` ("ReservedTensorName"),
 * duplicates ("DuplicateTensor"), non-string metadata values ("InvalidMetadata") and headers above the
 * cap ("HeaderTooLarge").
 */
export function layoutTensors(entries: readonly LayoutEntry[], metadata?: Record<string, string>, opts: LayoutOptions = {}): FileLayout {
	const file = opts.file ?? "<new safetensors file>";
	const parts: string[] = [];
	if (metadata !== undefined) {
		if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
			throw new SafetensorsError("InvalidMetadata", file, `__metadata__ must be an object of strings, got ${JSON.stringify(metadata)}`);
		}
		for (const [key, value] of Object.entries(metadata)) {
			if (typeof value !== "string") {
				throw new SafetensorsError(
					"InvalidMetadata",
					file,
					`__metadata__ value of ${JSON.stringify(key)} must be a string, got ${JSON.stringify(value) ?? typeof value}`,
				);
			}
		}
		parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
	}
	const seen = new Set<string>();
	const tensors: TensorInfo[] = [];
	let offset = 0;
	for (const entry of entries) {
		if (entry.name === "__metadata__") {
			throw new SafetensorsError("ReservedTensorName", file, "the name __metadata__ is reserved for the metadata map", entry.name);
		}
		if (seen.has(entry.name)) {
			throw new SafetensorsError("DuplicateTensor", file, "appears twice in the tensor list", entry.name);
		}
		seen.add(entry.name);
		const byteLength = tensorByteLength(entry, file);
		const shape = [...entry.shape];
		tensors.push({ name: entry.name, dtype: entry.dtype, shape, byteOffset: offset, byteLength });
		parts.push(
			`${JSON.stringify(entry.name)}:{"dtype":"${entry.dtype}","shape":[${shape.join(",")}],` +
				`"data_offsets":[${offset},${offset + byteLength}]}`,
		);
		offset += byteLength;
	}
	const json = encoder.encode(`{${parts.join(",")}}`);
	const padded = Math.ceil((LENGTH_PREFIX_BYTES + json.byteLength) / HEADER_ALIGNMENT) * HEADER_ALIGNMENT - LENGTH_PREFIX_BYTES;
	const cap = opts.maxHeaderBytes ?? MAX_HEADER_BYTES;
	if (padded > cap) {
		throw new SafetensorsError(
			"HeaderTooLarge",
			file,
			`header of ${padded} bytes (${tensors.length} tensors) is above the limit of ${cap} bytes`,
		);
	}
	const header = new Uint8Array(LENGTH_PREFIX_BYTES + padded);
	new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
	header.set(json, LENGTH_PREFIX_BYTES);
	header.fill(0x20, LENGTH_PREFIX_BYTES + json.byteLength);
	return { header, tensors, dataStart: header.byteLength, fileSize: header.byteLength + offset };
}

/**
 * Splits tensors (in output order) into shards: a new shard starts before a tensor when the current one
 * is non-empty and would grow past `maxShardBytes` (mergekit's rule; a tensor larger than the limit gets
 * a shard of its own). Returns the entry indices of each shard; always at least one (maybe empty) shard,
 * so that an output folder always has a weights file.
 */
export function planShards(entries: readonly { byteLength: number }[], maxShardBytes: number): number[][] {
	if (!Number.isSafeInteger(maxShardBytes) || maxShardBytes <= 0) {
		throw new UsageError(`shard size must be a positive whole number of bytes, got ${maxShardBytes}`);
	}
	const shards: number[][] = [[]];
	let current = 0;
	entries.forEach((entry, i) => {
		let shard = shards[shards.length - 1]!;
		if (shard.length > 0 && current + entry.byteLength > maxShardBytes) {
			shard = [];
			shards.push(shard);
			current = 0;
		}
		shard.push(i);
		current += entry.byteLength;
	});
	return shards;
}

/** Width of the zero-padded shard numbers in file names (Hugging Face's `{:05d}`). */
const SHARD_NUMBER_DIGITS = 5;

/**
 * File name of shard `index` (1-based) out of `count`: `model.safetensors` for a single shard,
 * else `model-00001-of-00003.safetensors`.
 */
export function shardFileName(index: number, count: number): string {
	if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 1 || index > count) {
		throw new RangeError(`shardFileName: shard ${index} of ${count} is not a valid 1-based shard number`);
	}
	if (count === 1) {
		return "model.safetensors";
	}
	const pad = (n: number) => String(n).padStart(SHARD_NUMBER_DIGITS, "0");
	return `model-${pad(index)}-of-${pad(count)}.safetensors`;
}

const SIZE_UNITS: Record<string, number> = {
	"": 1,
	k: 1e3,
	kb: 1e3,
	m: 1e6,
	mb: 1e6,
	g: 1e9,
	gb: 1e9,
	t: 1e12,
	tb: 1e12,
	// mergekit's parse_kmb reads a bare "B" suffix as billions ("5B" = 5e9), not bytes.
	b: 1e9,
	kib: 2 ** 10,
	mib: 2 ** 20,
	gib: 2 ** 30,
	tib: 2 ** 40,
};

/**
 * Parses a size: a number of bytes, or a string like "5GB", "500M", "1B", "2GiB", "1.5G" (K/M/G/T are
 * powers of 1000, KiB/MiB/GiB/TiB powers of 1024, a bare "B" means billions as in mergekit; case does not
 * matter). Fractions are rounded down to whole bytes. Throws UsageError on anything else or on ≤ 0.
 */
export function parseSize(size: string | number): number {
	let bytes: number;
	if (typeof size === "number") {
		bytes = size;
	} else {
		const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(size);
		const unit = m === null ? undefined : SIZE_UNITS[m[2]!.toLowerCase()];
		if (m === null || unit === undefined) {
			throw new UsageError(
				`invalid size ${JSON.stringify(size)}: expected a number ` +
					`with an optional unit (K, M, G, T, KiB, MiB, GiB, TiB, B = billion), e.g. "5GB"`,
			);
		}
		bytes = Math.floor(Number(m[1]) * unit);
	}
	if (!Number.isSafeInteger(bytes) || bytes <= 0) {
		throw new UsageError(`invalid size ${JSON.stringify(size)}: must be a positive whole number of bytes below 2^53`);
	}
	return bytes;
}
