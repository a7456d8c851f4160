/**
 * The field-by-field parse of a GGUF header after the magic: version, counts, metadata key/values and
 * tensor infos. Every length and count is checked against the bytes the file can still hold before it is
 * used, so a corrupt count fails with a one-line error instead of a huge allocation.
 */
import { GgufError } from "../errors.js";
import { type GgufKind, type GgufMetadata, type GgufValue, KIND_BYTES, KIND_TAGS } from "./metadata.js";

/** ggml tensors have at most four dimensions (GGML_MAX_DIMS). */
const MAX_TENSOR_DIMS = 4;

interface RawTensorInfo {
	name: string;
	dims: number[];
	typeId: number;
	offset: number;
}

/** On-disk tag → kind name: KIND_TAGS turned around. */
const KIND_OF_TAG = new Map<number, GgufKind>(Object.entries(KIND_TAGS).map(([k, v]) => [v, k as GgufKind]));

/** Parses from byte 4 on. `bytes()` is the buffer read so far; `grow(n)` makes the first n bytes available. */
/** Smallest encodings: a metadata entry (key length, empty key, type tag, one byte) and a tensor info. */
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;

export async function readHeaderFields(
	path: string,
	fileSize: number,
	bytes: () => Uint8Array,
	grow: (need: number) => Promise<Uint8Array>,
): Promise<{ version: number; metadata: GgufMetadata; tensors: RawTensorInfo[]; headerBytes: number }> {
	let pos = 4;
	let field = "version";
	const need = async (n: number): Promise<DataView> => {
		if (pos + n > bytes().byteLength) {
			try {
				await grow(pos + n);
			} catch (err) {
				if (err instanceof GgufError && err.kind === "Truncated")
					throw new GgufError("Truncated", path, `${field} runs past the end of the file (byte ${pos + n})`);
				throw err;
			}
		}
		const b = bytes();
		return new DataView(b.buffer, b.byteOffset);
	};
	const u32 = async () => {
		const v = (await need(4)).getUint32(pos, true);
		pos += 4;
		return v;
	};
	const u64 = async () => {
		const v = (await need(8)).getBigUint64(pos, true);
		pos += 8;
		if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError("InvalidMetadata", path, `${field}: ${v} is too large`);
		return Number(v);
	};
	const string = async () => {
		const len = await u64();
		await need(len);
		let s: string;
		try {
			s = new TextDecoder("utf-8", { fatal: true }).decode(bytes().subarray(pos, pos + len));
		} catch {
			throw new GgufError("InvalidMetadata", path, `${field}: a string of ${len} bytes is not valid UTF-8`);
		}
		pos += len;
		return s;
	};
	const scalar = async (kind: GgufKind): Promise<number | bigint | boolean | string> => {
		if (kind === "string") return string();
		const size = KIND_BYTES[kind]!;
		const dv = await need(size);
		const at = pos;
		pos += size;
		switch (kind) {
			case "uint8":
				return dv.getUint8(at);
			case "int8":
				return dv.getInt8(at);
			case "bool":
				return dv.getUint8(at) !== 0;
			case "uint16":
				return dv.getUint16(at, true);
			case "int16":
				return dv.getInt16(at, true);
			case "uint32":
				return dv.getUint32(at, true);
			case "int32":
				return dv.getInt32(at, true);
			case "float32":
				return dv.getFloat32(at, true);
			case "float64":
				return dv.getFloat64(at, true);
			case "uint64":
				return dv.getBigUint64(at, true);
			default:
				return dv.getBigInt64(at, true);
		}
	};
	const kindOf = (tag: number): GgufKind => {
		const k = KIND_OF_TAG.get(tag);
		if (k === undefined) throw new GgufError("InvalidMetadata", path, `${field}: unknown value type ${tag}`);
		return k;
	};
	const value = async (kind: GgufKind): Promise<GgufValue> => {
		if (kind !== "array") return { kind, value: await scalar(kind) } as GgufValue;
		const itemKind = kindOf(await u32());
		const count = await u64();
		const minItem = itemKind === "string" ? 8 : itemKind === "array" ? 12 : KIND_BYTES[itemKind]!;
		await need(Math.min(count * minItem, Number.MAX_SAFE_INTEGER));
		if (itemKind === "array") {
			const items: GgufValue[] = [];
			for (let i = 0; i < count; i++) items.push(await value("array"));
			return { kind: "array", itemKind, value: items };
		}
		const items: Array<number | bigint | boolean | string> = [];
		for (let i = 0; i < count; i++) items.push(await scalar(itemKind));
		return { kind: "array", itemKind, value: items } as GgufValue;
	};

	const version = await u32();
	if (version !== 2 && version !== 3)
		throw new GgufError("UnsupportedVersion", path, `GGUF version ${version} (this reader handles 2 and 3)`);
	field = "tensor count";
	const tensorCount = await u64();
	field = "metadata count";
	const kvCount = await u64();
	if (tensorCount * MIN_TENSOR_INFO_BYTES + kvCount * MIN_KV_BYTES > fileSize) {
		throw new GgufError("Truncated", path, `${tensorCount} tensors and ${kvCount} metadata entries cannot fit in a ${fileSize}-byte file`);
	}
	const metadata: GgufMetadata = new Map();
	for (let i = 0; i < kvCount; i++) {
		field = `metadata entry ${i}`;
		const key = await string();
		field = `metadata "${key}"`;
		if (metadata.has(key)) throw new GgufError("InvalidMetadata", path, `${field} appears twice`);
		metadata.set(key, await value(kindOf(await u32())));
	}
	const tensors: RawTensorInfo[] = [];
	for (let i = 0; i < tensorCount; i++) {
		field = `tensor info ${i}`;
		const name = await string();
		field = `tensor "${name}"`;
		const nDims = await u32();
		if (nDims === 0 || nDims > MAX_TENSOR_DIMS)
			throw new GgufError("InvalidTensorInfo", path, `${nDims} dimensions (1 to ${MAX_TENSOR_DIMS} allowed)`, name);
		const dims: number[] = [];
		for (let d = 0; d < nDims; d++) {
			const n = await u64();
			if (n === 0) throw new GgufError("InvalidTensorInfo", path, `dimension ${d} is 0`, name);
			dims.push(n);
		}
		const typeId = await u32();
		const offset = await u64();
		tensors.push({ name, dims, typeId, offset });
	}
	return { version, metadata, tensors, headerBytes: pos };
}
