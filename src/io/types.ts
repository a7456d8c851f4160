import type { Tensor } from "../tensor/tensor.js";
import type { Dtype } from "./dtypes.js";

/** One tensor entry of a safetensors header, in memory form (camelCase; offsets relative to the data section). */
export interface TensorInfo {
	name: string;
	dtype: Dtype;
	shape: number[];
	/** Offset of the first byte, relative to the start of the data section (the wire's data_offsets[0]). */
	byteOffset: number;
	/** data_offsets[1] - data_offsets[0]. */
	byteLength: number;
}

/** A parsed and fully validated safetensors header. */
export interface SafetensorsHeader {
	/** Tensors in the order of their data offsets. */
	tensors: Map<string, TensorInfo>;
	/** The `__metadata__` string map ({} when absent). */
	metadata: Record<string, string>;
	/** Absolute file offset of the data section: 8 + header length. */
	dataStart: number;
}

/**
 * Read access to a set of named tensors: one safetensors file, or a whole model folder (index + shards).
 * Everything here is safe against hostile files: headers were validated before the source was returned.
 */
export interface TensorSource {
	/** A path users recognise in messages (the file or the folder). */
	readonly location: string;
	/** Tensor names, in file order (shard by shard for folders). */
	names(): string[];
	/** Whether a tensor of that name exists. */
	has(name: string): boolean;
	/** Throws SafetensorsError kind "TensorNotFound". */
	info(name: string): TensorInfo;
	/** The file that holds a tensor (for messages and passthrough). */
	fileOf(name: string): string;
	/** The `__metadata__` of the file (for folders: of the first shard). */
	metadata(): Record<string, string>;
	/** The whole tensor decoded to float32 (F64/F32/F16/BF16; other dtypes throw kind "UnsupportedDtype"). */
	read(name: string): Promise<Tensor>;
	/** Rows [rowStart, rowEnd) along dim 0, decoded to float32 (a 1-D tensor's "rows" are its elements). */
	readRows(name: string, rowStart: number, rowEnd: number): Promise<Tensor>;
	/**
	 * The raw little-endian bytes of a tensor, or of the byte range [start, end) inside it; read into `into`
	 * (which must hold exactly end − start bytes) when given, so streaming callers can reuse their buffers.
	 */
	readRaw(name: string, start?: number, end?: number, into?: Uint8Array): Promise<Uint8Array>;
	/**
	 * Bytes [start, end) of a tensor read into `scratch` without going through the page cache (O_DIRECT) where the
	 * file system allows it, else by an ordinary read; returns the view of `scratch` that holds them, which need
	 * not start at its first byte. `scratch` must come from `allocAligned` (io/aligned.ts) and hold at least
	 * `alignedSpan(end − start)` bytes. Streaming readers use it: a cold read through the page cache costs more CPU
	 * than the merge itself on some virtual machines. Optional: callers fall back to readRaw.
	 */
	readRawAligned?(name: string, start: number, end: number, scratch: Uint8Array): Promise<Uint8Array>;
	/** Closes the file handles; the source cannot be read afterwards. */
	close(): Promise<void>;
}
