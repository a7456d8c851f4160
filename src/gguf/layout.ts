/**
 * The layout of a GGUF file, computed before any tensor data is written: header, metadata, tensor infos,
 * padding, then each tensor's data at an offset that is a multiple of the alignment. Knowing every
 * tensor's type and shape up front is what lets the export stream (like safetensors' prepare()).
 */
import { GgufError } from "../errors.js";
import { GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, type GgmlType, ggmlRowBytes } from "./constants.js";
import { ByteSink, type GgufMetadata, KIND_TAGS } from "./metadata.js";

/** One tensor of the file: GGUF dims are innermost first (`dims[0]` is the row length, ggml's ne[0]). */
interface GgufTensorSpec {
	name: string;
	dims: readonly number[];
	type: GgmlType;
}

interface GgufTensorPlacement extends GgufTensorSpec {
	/** Offset from the start of the data section. */
	offset: number;
	byteLength: number;
}

export interface GgufLayout {
	/** Everything before the data section, padding included. */
	header: Uint8Array;
	tensors: GgufTensorPlacement[];
	alignment: number;
	/** Absolute offset of the data section. */
	dataStart: number;
	fileSize: number;
}

/** The bytes of a tensor of `type` and `dims`; throws when rows are not whole blocks. */
function ggufTensorBytes(spec: GgufTensorSpec, file: string): number {
	const row = spec.dims[0] ?? 1;
	const rowBytes = ggmlRowBytes(spec.type, row);
	if (rowBytes === undefined) {
		throw new GgufError(
			"InvalidTensorInfo",
			file,
			`rows of ${row} elements are not whole ${spec.type} blocks of ${GGML_TYPES[spec.type].block}`,
			spec.name,
		);
	}
	return spec.dims.slice(1).reduce((n, d) => n * d, rowBytes);
}

function alignUp(n: number, alignment: number): number {
	return Math.ceil(n / alignment) * alignment;
}

/** Lays out header, metadata and tensor infos; tensor data follows in the order given. */
export function layoutGguf(
	metadata: GgufMetadata,
	tensors: readonly GgufTensorSpec[],
	file: string,
	alignment = GGUF_DEFAULT_ALIGNMENT,
): GgufLayout {
	const placements: GgufTensorPlacement[] = [];
	let offset = 0;
	for (const t of tensors) {
		const byteLength = ggufTensorBytes(t, file);
		placements.push({ ...t, offset, byteLength });
		offset = alignUp(offset + byteLength, alignment);
	}
	const sink = new ByteSink();
	sink.u32(GGUF_MAGIC);
	sink.u32(GGUF_VERSION);
	sink.u64(tensors.length);
	sink.u64(metadata.size);
	for (const [key, value] of metadata) {
		sink.string(key);
		sink.u32(KIND_TAGS[value.kind]);
		sink.value(value);
	}
	for (const t of placements) {
		sink.string(t.name);
		sink.u32(t.dims.length);
		for (const d of t.dims) sink.u64(d);
		sink.u32(GGML_TYPES[t.type].id);
		sink.u64(t.offset);
	}
	const dataStart = alignUp(sink.length, alignment);
	sink.zeros(dataStart - sink.length);
	const last = placements.at(-1);
	return {
		header: sink.result(),
		tensors: placements,
		alignment,
		dataStart,
		fileSize: dataStart + (last === undefined ? 0 : last.offset + last.byteLength),
	};
}
