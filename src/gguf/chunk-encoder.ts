/**
 * One chunk's compute: the source bytes (rows of bf16, f16 or f32) → float32 in blocks that stay in cache (rows
 * taken in llama.cpp's rotary order for q/k) → the ggml type's bytes. With this thread's WebAssembly arena the
 * blocks live in its first slot, bf16 is widened by the compiled kernel and the compiled encoders run (wasm-encode.ts);
 * without it, the same steps run in TypeScript. Either way the bytes are those of encodeRows on the permuted rows.
 */
import { decodeToF32 } from "../io/convert.js";
import { dtypeBytes } from "../io/dtypes.js";
import { ARENA_BLOCK, type WasmArena } from "../wasm/kernels.js";
import { GGML_TYPES } from "./constants.js";
import type { ExportChunk } from "./export-chunks.js";
import { rotarySourceRow } from "./names.js";
import { encodeInArena } from "./wasm-encode.js";

/** Float32 values decoded and encoded at a time: one arena slot (256 KB, cache-resident). */
const ENCODE_BLOCK_VALUES = ARENA_BLOCK;

/** Where a chunk's values are decoded: the arena's first slot, or (without an arena) a buffer of the same size. */
export function blockBuffer(arena: WasmArena | undefined): Float32Array {
	return arena !== undefined ? arena.slots[0]! : new Float32Array(ENCODE_BLOCK_VALUES);
}

/**
 * Encodes `chunk` from `raw` (exactly its source bytes, chunk.end − chunk.start) into `out` (exactly chunk.bytes),
 * using `block` (from blockBuffer) as scratch.
 */
export function encodeChunk(arena: WasmArena | undefined, chunk: ExportChunk, raw: Uint8Array, out: Uint8Array, block: Float32Array): void {
	const { cols, rows, type } = chunk;
	const inRow = cols * dtypeBytes(chunk.dtype);
	const blockSize = GGML_TYPES[type].block;
	const outPerBlock = GGML_TYPES[type].bytes;
	const decode = (from: number, count: number, into: Float32Array) => {
		const bytes = raw.subarray(from, from + count * dtypeBytes(chunk.dtype));
		if (arena !== undefined && chunk.dtype === "BF16" && arena.holds(into)) arena.decodeBf16(bytes, into);
		else decodeToF32(bytes, chunk.dtype, into);
	};
	const encode = (values: Float32Array, outAt: number) => {
		encodeInArena(arena, type, values, out.subarray(outAt, outAt + (values.length / blockSize) * outPerBlock));
	};
	const sourceRow = (r: number) => (chunk.headDim !== undefined ? rotarySourceRow(r, chunk.headDim) : r);
	if (cols <= block.length) {
		// Whole rows per block; consecutive rows decode in one call unless permuted.
		const perBlock = Math.floor(block.length / cols);
		for (let r0 = 0; r0 < rows; r0 += perBlock) {
			const n = Math.min(perBlock, rows - r0);
			if (chunk.headDim === undefined) decode(r0 * inRow, n * cols, block.subarray(0, n * cols));
			else for (let r = 0; r < n; r++) decode(sourceRow(r0 + r) * inRow, cols, block.subarray(r * cols, (r + 1) * cols));
			encode(block.subarray(0, n * cols), (r0 * cols * outPerBlock) / blockSize);
		}
		return;
	}
	// Rows longer than a block: whole ggml blocks of a row at a time (blocks never cross rows).
	const span = Math.floor(block.length / blockSize) * blockSize;
	for (let r = 0; r < rows; r++) {
		for (let c = 0; c < cols; c += span) {
			const n = Math.min(span, cols - c);
			decode(sourceRow(r) * inRow + c * dtypeBytes(chunk.dtype), n, block.subarray(0, n));
			encode(block.subarray(0, n), ((r * cols + c) * outPerBlock) / blockSize);
		}
	}
}
