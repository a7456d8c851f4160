/**
 * The "streamed" kernel mode: a method's chunked form driven the way the executor's runChunked drives it for every
 * tensor above CHUNKED_ABOVE_ELEMENTS, minus the file I/O and the bf16 decode/encode. Each block is copied into
 * reusable block buffers (as decode fills them), scanned or emitted, and the emitted values are copied out (as
 * encode reads them), so the timed work is the kernel's plus one copy in and one copy out per block. Like the
 * executor, it places the blocks in the thread's WebAssembly arena (src/wasm/kernels.ts) when it can, so the
 * compiled loops run; `LM_MERGE_WASM=0` measures the TypeScript loops instead.
 */
import { CHUNK_ALIGN } from "../src/methods/chunked.js";
import type { Chunk, ChunkedForm, MergeContext } from "../src/methods/types.js";
import { COMPUTE_BLOCK_ELEMENTS } from "../src/plan/memory.js";
import { ARENA_BLOCK, ARENA_INPUTS, wasmArena } from "../src/wasm/kernels.js";

/** One whole tensor for the streamed driver: its inputs (read only) and the parameters the kernel is created with. */
export interface StreamedTensor {
	tensorName: string;
	shape: readonly number[];
	params: unknown;
	modelParams: unknown[];
	base: Float32Array | undefined;
	models: Float32Array[];
}

/** Rounds a block size down to a multiple of CHUNK_ALIGN (at least one), as runChunked does. */
export function alignBlock(elements: number): number {
	return Math.max(CHUNK_ALIGN, Math.floor(elements / CHUNK_ALIGN) * CHUNK_ALIGN);
}

/**
 * Creates `form`'s kernel for the whole tensor, then runs its scan passes and the emit pass over consecutive blocks
 * of `blockElements` (rounded to CHUNK_ALIGN) in index order, each block a fresh copy of the inputs' slice in
 * reusable buffers; emitted blocks are copied into `out` (length = the tensor's element count), which is returned.
 * `kernel.scanPasses` is re-read before every pass, since a kernel may learn it needs fewer.
 */
export function runStreamed(
	form: ChunkedForm<unknown, unknown>,
	tensor: StreamedTensor,
	ctx: MergeContext,
	out: Float32Array,
	blockElements: number = COMPUTE_BLOCK_ELEMENTS,
): Float32Array {
	const n = out.length;
	const { base, models } = tensor;
	const kernel = form.create(
		{
			tensorName: tensor.tensorName,
			shape: tensor.shape,
			numel: n,
			params: tensor.params,
			modelParams: tensor.modelParams,
			models: models.length,
		},
		ctx,
	);
	const block = Math.min(alignBlock(blockElements), n);
	// As the executor: blocks in the thread's WebAssembly arena when it has room, so the compiled loops run.
	const arena = block <= ARENA_BLOCK && models.length + (base !== undefined ? 1 : 0) <= ARENA_INPUTS ? wasmArena() : undefined;
	const blockOf = (slot: number) => (arena !== undefined ? arena.slots[slot]! : new Float32Array(block));
	const baseBlock = base !== undefined ? blockOf(0) : undefined;
	const modelBlocks = models.map((_, i) => blockOf(i + (base !== undefined ? 1 : 0)));
	const fill = (from: number, len: number): Chunk => {
		const copy = (src: Float32Array, buf: Float32Array): Float32Array => {
			const view = buf.subarray(0, len);
			view.set(src.subarray(from, from + len));
			return view;
		};
		return {
			offset: from,
			base: base !== undefined ? copy(base, baseBlock!) : undefined,
			models: models.map((m, i) => copy(m, modelBlocks[i]!)),
		};
	};
	let pass = 0;
	for (; pass < kernel.scanPasses; pass++) {
		for (let from = 0; from < n; from += block) kernel.scan(pass, fill(from, Math.min(block, n - from)));
	}
	for (let from = 0; from < n; from += block) out.set(kernel.emit(fill(from, Math.min(block, n - from))), from);
	return out;
}
