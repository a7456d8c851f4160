/**
 * The numbers of the GGUF format (ggml's docs/gguf.md): the file magic and version, the metadata value
 * types, and the tensor types this project reads or writes with their block geometry.
 */

/** "GGUF" as the first four bytes of the file. */
export const GGUF_MAGIC = 0x46554747;

/** The version this project writes; the reader also accepts 2 (same layout, 64-bit counts). */
export const GGUF_VERSION = 3;

/** Tensor data offsets are multiples of this unless `general.alignment` says otherwise. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** The metadata value type tags. */
export const GgufValueType = {
	UINT8: 0,
	INT8: 1,
	UINT16: 2,
	INT16: 3,
	UINT32: 4,
	INT32: 5,
	FLOAT32: 6,
	BOOL: 7,
	STRING: 8,
	ARRAY: 9,
	UINT64: 10,
	INT64: 11,
	FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** ggml tensor types this project knows: `id` is the on-disk tag; `block` elements take `bytes` bytes. */
export const GGML_TYPES = {
	F32: { id: 0, block: 1, bytes: 4 },
	F16: { id: 1, block: 1, bytes: 2 },
	Q4_0: { id: 2, block: 32, bytes: 18 },
	Q4_1: { id: 3, block: 32, bytes: 20 },
	Q5_0: { id: 6, block: 32, bytes: 22 },
	Q5_1: { id: 7, block: 32, bytes: 24 },
	Q8_0: { id: 8, block: 32, bytes: 34 },
	Q8_1: { id: 9, block: 32, bytes: 36 },
	Q2_K: { id: 10, block: 256, bytes: 84 },
	Q3_K: { id: 11, block: 256, bytes: 110 },
	Q4_K: { id: 12, block: 256, bytes: 144 },
	Q5_K: { id: 13, block: 256, bytes: 176 },
	Q6_K: { id: 14, block: 256, bytes: 210 },
	Q8_K: { id: 15, block: 256, bytes: 292 },
	I8: { id: 24, block: 1, bytes: 1 },
	I16: { id: 25, block: 1, bytes: 2 },
	I32: { id: 26, block: 1, bytes: 4 },
	I64: { id: 27, block: 1, bytes: 8 },
	F64: { id: 28, block: 1, bytes: 8 },
	BF16: { id: 30, block: 1, bytes: 2 },
} as const satisfies Record<string, { id: number; block: number; bytes: number }>;

/** A ggml tensor type name (`F32`, `Q8_0`, `Q4_K`, ...), the types llama.cpp stores tensors in. */
export type GgmlType = keyof typeof GGML_TYPES;

const BY_ID = new Map<number, GgmlType>(Object.entries(GGML_TYPES).map(([name, t]) => [t.id, name as GgmlType]));

/** The type name of an on-disk tag, or undefined for a tag this project does not know. */
export function ggmlTypeName(id: number): GgmlType | undefined {
	return BY_ID.get(id);
}

/**
 * Bytes of one row of `rowLength` elements; undefined when the row is not a whole number of blocks
 * (ggml stores every row as whole blocks).
 */
export function ggmlRowBytes(type: GgmlType, rowLength: number): number | undefined {
	const t = GGML_TYPES[type];
	if (rowLength % t.block !== 0) return undefined;
	return (rowLength / t.block) * t.bytes;
}

/** llama.cpp's `general.file_type` values (LLAMA_FTYPE_*) for the types this project exports. */
export const LLAMA_FILE_TYPES = {
	f32: 0,
	f16: 1,
	q4_0: 2,
	q8_0: 7,
	q4_k_m: 15,
	q5_k_m: 17,
	q6_k: 18,
	bf16: 32,
} as const;

/** `general.quantization_version`: the block layouts of ggml's current quantized types. */
export const GGML_QUANTIZATION_VERSION = 2;
