/**
 * The WebAssembly kernels (native/kernels.c, compiled by scripts/build-wasm.mjs into kernels-binary.ts) and the
 * per-thread arena they work in: one fixed-size memory, owned by JavaScript and never grown (so views on it stay
 * valid), split into block slots of COMPUTE_BLOCK_ELEMENTS float32 values. The streamed executor decodes each
 * block into these slots, so the task-vector loops find their arrays in the arena and run the compiled loop; any
 * other array runs the TypeScript loop, which computes the same bits.
 *
 * A block's slots are used synchronously (decode, kernel, encode, with no await between), so one arena serves
 * every job of its thread. `LM_MERGE_WASM=0` turns the kernels off (for comparisons and as an escape hatch), as
 * does a runtime without WebAssembly SIMD.
 */
import { KERNELS_WASM_BASE64 } from "./kernels-binary.js";

/** The compiled functions; pointers are byte offsets into the arena's memory. */
export interface KernelExports {
	dare_bits(
		x: number,
		b: number,
		n: number,
		words: number,
		c0: number,
		kLo: number,
		kHi: number,
		hiMix: number,
		limit: number,
		sums: number,
	): number;
	bits_one(x: number, b: number, dst: number, n: number, words: number, sv: number, w: number, r: number, lambda: number): number;
	random_one(
		x: number,
		b: number,
		dst: number,
		n: number,
		c0: number,
		kLo: number,
		kHi: number,
		hiMix: number,
		limit: number,
		sv: number,
		w: number,
		r: number,
		lambda: number,
	): number;
	cuts_one_mul(
		x: number,
		b: number,
		dst: number,
		n: number,
		tU: number,
		tL: number,
		sv: number,
		w: number,
		r: number,
		lambda: number,
	): number;
	cuts_one_div(
		x: number,
		b: number,
		dst: number,
		n: number,
		tU: number,
		tL: number,
		sv: number,
		w: number,
		D: number,
		lambda: number,
	): number;
	cuts_one_unit(x: number, b: number, dst: number, n: number, tU: number, tL: number): number;
	cuts_one_pow2(x: number, b: number, dst: number, n: number, tU: number, tL: number, sv: number, c: number): number;
	bits_one_pow2(x: number, b: number, dst: number, n: number, words: number, sv: number, c: number): number;
	random_one_pow2(
		x: number,
		b: number,
		dst: number,
		n: number,
		c0: number,
		kLo: number,
		kHi: number,
		hiMix: number,
		limit: number,
		sv: number,
		c: number,
	): number;
	bracket_scan(
		x: number,
		b: number,
		n: number,
		lo: number,
		hi: number,
		v0: number,
		v1: number,
		v2: number,
		v3: number,
		gathered: number,
		counts: number,
	): number;
	fill_cuts(x: number, b: number, n: number, tU: number, tL: number, sv: number, w: number, out: number): void;
	fill_random(
		x: number,
		b: number,
		n: number,
		c0: number,
		kLo: number,
		kHi: number,
		hiMix: number,
		limit: number,
		sv: number,
		w: number,
		out: number,
	): void;
	fill_bits(x: number, b: number, n: number, words: number, sv: number, w: number, out: number): void;
	fill_all(x: number, b: number, n: number, w: number, out: number): void;
	mix_elect_mul(b: number, dst: number, n: number, v0s: number, v1s: number, t: number, lambda: number): number;
	mix_elect_div(b: number, dst: number, n: number, v0s: number, v1s: number, t: number, lambda: number): number;
	mix_sum_mul(b: number, dst: number, n: number, v0s: number, v1s: number, t: number, lambda: number): number;
	mix_sum_div(b: number, dst: number, n: number, v0s: number, v1s: number, t: number, lambda: number): number;
	slerp_sums(a: number, b: number, n: number, sums: number): void;
	slerp_blend(out: number, a: number, b: number, n: number, ca: number, cb: number): void;
	decode_bf16(src: number, dst: number, n: number): void;
	encode_bf16(src: number, dst: number, n: number): number;
	any_nonfinite_f32(src: number, n: number): number;
	// The GGUF export's encoders (native/gguf-quant.c): n values, or whole blocks; 1 when a value is outside their
	// domain (not finite, or too large), and the caller then encodes with the TypeScript oracle.
	encode_f16(src: number, dst: number, n: number): void;
	encode_q8_0(src: number, dst: number, blocks: number): number;
	encode_q4_0(src: number, dst: number, blocks: number): number;
	encode_q4_k(src: number, dst: number, blocks: number): number;
	encode_q5_k(src: number, dst: number, blocks: number): number;
	encode_q6_k(src: number, dst: number, blocks: number): number;
}

/** The part of the WebAssembly API used here (the project's TypeScript libs leave out the DOM's declarations). */
interface WasmMemory {
	readonly buffer: ArrayBuffer;
}
interface WasmApi {
	validate(bytes: Uint8Array): boolean;
	Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
	Module: new (bytes: Uint8Array) => object;
	Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const Wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** Float32 block slots: up to four inputs (a base and three models) plus the output. */
export const ARENA_INPUTS = 4;
/**
 * Elements per block slot: 64 Ki, the executor's compute block (COMPUTE_BLOCK_ELEMENTS); a larger block simply
 * runs outside the arena, on the TypeScript loops.
 */
export const ARENA_BLOCK = 1 << 16;
const SLOT_BYTES = ARENA_BLOCK * 4;
/** Where the slots start: past the C stack (64 KB) and static data, checked against __heap_base at load. */
const ARENA_START = 1 << 17;
/** Keep-bit words of one block, then two float64 sums and eight int32 counts, after the slots. */
const WORDS_BYTES = ARENA_BLOCK / 8;
/** Elements per two-model sub-block: its two float64 contribution buffers (16 KB each) stay in L1 cache. */
export const ARENA_SUB_BLOCK = 2048;
/** Bytes after the slots: words, sums (16), counts (32), a table of four float64 (32), two contribution buffers. */
const TAIL_BYTES = WORDS_BYTES + 16 + 32 + 32 + 2 * 8 * ARENA_SUB_BLOCK;
const WASM_PAGE = 1 << 16;
/**
 * Bytes after the tail for the executor's aligned I/O buffers (chunk rings, kept chunks, output chunks: see
 * exec/buffer-pool.ts), so the compiled conversions work on them in place. Untouched pages cost no memory.
 */
export const ARENA_HEAP_BYTES = 640 * 2 ** 20;
/** Heap blocks start on a page, so they can take direct I/O (io/aligned.ts: DIRECT_ALIGN). */
const HEAP_ALIGN = 4096;

/** One thread's kernels and their slots. */
export class WasmArena {
	readonly k: KernelExports;
	readonly buffer: ArrayBuffer;
	/** Input slot i (0 ≤ i < ARENA_INPUTS), then the output slot at ARENA_INPUTS. */
	readonly slots: Float32Array[];
	/** Raw (encoded) bytes of each input slot's block and the output block's encoded bytes. */
	readonly raw: Uint8Array[];
	readonly words: Uint32Array;
	readonly sums: Float64Array;
	readonly counts: Int32Array;
	/** Four float64 values (a two-model mix's divisors or reciprocals). */
	readonly table: Float64Array;
	/** The two models' contributions of a sub-block. */
	readonly contrib: [Float64Array, Float64Array];

	/** Next free byte of the heap, its end, and the blocks given back (reused best fit first). */
	private heapNext: number;
	private readonly heapEnd: number;
	private readonly released: Uint8Array[] = [];

	constructor(k: KernelExports, memory: WasmMemory) {
		this.k = k;
		this.buffer = memory.buffer;
		const slotAt = (i: number) => ARENA_START + i * SLOT_BYTES;
		this.slots = Array.from({ length: ARENA_INPUTS + 1 }, (_, i) => new Float32Array(this.buffer, slotAt(i), ARENA_BLOCK));
		this.raw = Array.from({ length: ARENA_INPUTS + 1 }, (_, i) => new Uint8Array(this.buffer, slotAt(ARENA_INPUTS + 1 + i), SLOT_BYTES));
		const tail = slotAt(2 * (ARENA_INPUTS + 1));
		this.words = new Uint32Array(this.buffer, tail, WORDS_BYTES / 4);
		this.sums = new Float64Array(this.buffer, tail + WORDS_BYTES, 2);
		this.counts = new Int32Array(this.buffer, tail + WORDS_BYTES + 16, 8);
		this.table = new Float64Array(this.buffer, tail + WORDS_BYTES + 48, 4);
		const contrib = tail + WORDS_BYTES + 80;
		this.contrib = [
			new Float64Array(this.buffer, contrib, ARENA_SUB_BLOCK),
			new Float64Array(this.buffer, contrib + 8 * ARENA_SUB_BLOCK, ARENA_SUB_BLOCK),
		];
		this.heapNext = Math.ceil((contrib + 16 * ARENA_SUB_BLOCK) / HEAP_ALIGN) * HEAP_ALIGN;
		this.heapEnd = this.buffer.byteLength;
	}

	/**
	 * A page-aligned block of `bytes` bytes of the arena's heap (a released block of at most twice the size, or new
	 * space), or undefined when the heap is full. Give it back with `release`.
	 */
	allocate(bytes: number): Uint8Array | undefined {
		let best = -1;
		for (let i = 0; i < this.released.length; i++) {
			const size = this.released[i]!.byteLength;
			if (size >= bytes && size <= 2 * Math.max(bytes, HEAP_ALIGN) && (best < 0 || size < this.released[best]!.byteLength)) best = i;
		}
		if (best >= 0) return this.released.splice(best, 1)[0]!.subarray(0, bytes);
		const size = Math.ceil(Math.max(1, bytes) / HEAP_ALIGN) * HEAP_ALIGN;
		if (this.heapNext + size > this.heapEnd) return undefined;
		const block = new Uint8Array(this.buffer, this.heapNext, size);
		this.heapNext += size;
		return block.subarray(0, bytes);
	}

	/** Gives back a block from `allocate` (any view starting at its first byte): its whole page-rounded space. */
	release(block: Uint8Array): void {
		const start = block.byteOffset;
		if (block.buffer !== this.buffer || start % HEAP_ALIGN !== 0) return;
		const size = Math.ceil(Math.max(1, block.byteLength) / HEAP_ALIGN) * HEAP_ALIGN;
		this.released.push(new Uint8Array(this.buffer, start, size));
	}

	/**
	 * Decodes bf16 bytes into `out` (an arena slot's view, bytes.length / 2 elements); returns `out`. Bytes in the
	 * arena (at an even offset) are decoded where they are; others are copied in first.
	 */
	decodeBf16(bytes: Uint8Array, out: Float32Array): Float32Array {
		let raw = bytes;
		if (!this.holds(bytes) || bytes.byteOffset % 2 !== 0) {
			raw = this.rawOf(out);
			raw.set(bytes);
		}
		this.k.decode_bf16(raw.byteOffset, out.byteOffset, out.length);
		return out;
	}

	/**
	 * Encodes `values` (an arena slot's view) as bf16 into `into` (2 bytes per value): in place when `into` lies in
	 * the arena at an even offset, else through the output slot's raw bytes and a copy. Returns whether every encoded
	 * value is finite (as encodeChecked of src/io/convert.ts).
	 */
	encodeBf16(values: Float32Array, into: Uint8Array): boolean {
		if (this.holds(into) && into.byteOffset % 2 === 0) {
			return this.k.encode_bf16(values.byteOffset, into.byteOffset, values.length) === 0;
		}
		const raw = this.rawOf(values);
		const finite = this.k.encode_bf16(values.byteOffset, raw.byteOffset, values.length) === 0;
		into.set(raw.subarray(0, 2 * values.length));
		return finite;
	}

	/** Whether no value of `values` (an arena slot's view) is NaN or ±Inf. */
	allFiniteF32(values: Float32Array): boolean {
		return this.k.any_nonfinite_f32(values.byteOffset, values.length) === 0;
	}

	/** The raw slot paired with the float32 slot holding `a` (the same block, at the same element offset). */
	private rawOf(a: Float32Array): Uint8Array {
		const slot = Math.floor((a.byteOffset - ARENA_START) / SLOT_BYTES);
		const within = a.byteOffset - ARENA_START - slot * SLOT_BYTES;
		return this.raw[slot]!.subarray(within, within + 4 * a.length);
	}

	/** Whether `a` lies in this arena (then its byteOffset is its pointer). */
	holds(a: ArrayBufferView): boolean {
		return a.buffer === this.buffer;
	}
}

/** Bytes the arena's memory needs: stack and data, 2·(inputs + 1) slots, the tail and a heap of `heap` bytes. */
function arenaPages(heap: number): number {
	const bytes = ARENA_START + 2 * (ARENA_INPUTS + 1) * SLOT_BYTES + TAIL_BYTES + HEAP_ALIGN + heap;
	return Math.ceil(bytes / WASM_PAGE);
}

let arena: WasmArena | undefined | null = null;

/** Loads the kernels into a new arena; undefined when WebAssembly SIMD is unavailable or turned off. */
function load(): WasmArena | undefined {
	if (process.env.LM_MERGE_WASM === "0" || Wasm === undefined) return undefined;
	const bytes = Buffer.from(KERNELS_WASM_BASE64, "base64");
	if (!Wasm.validate(bytes)) return undefined;
	let memory: WasmMemory;
	try {
		memory = new Wasm.Memory({ initial: arenaPages(ARENA_HEAP_BYTES), maximum: arenaPages(ARENA_HEAP_BYTES) });
	} catch {
		// A system that will not map the heap's address space (strict overcommit): an arena without a heap, whose
		// pool buffers then live outside it (conversions copy in and out).
		memory = new Wasm.Memory({ initial: arenaPages(0), maximum: arenaPages(0) });
	}
	const instance = new Wasm.Instance(new Wasm.Module(bytes), { env: { memory } });
	const heapBase = instance.exports.__heap_base as { value: number } | undefined;
	if (heapBase !== undefined && heapBase.value > ARENA_START) {
		throw new Error(`wasm kernels: static data ends at ${String(heapBase.value)}, past the arena start ${ARENA_START}`);
	}
	return new WasmArena(instance.exports as unknown as KernelExports, memory);
}

/** This thread's arena (loaded on first use), or undefined when the compiled kernels are not in use. */
export function wasmArena(): WasmArena | undefined {
	if (arena === null) arena = load();
	return arena;
}

/** The arena when every array lies in it (so the compiled loop can run on them), else undefined. */
export function arenaOf(...arrays: ArrayBufferView[]): WasmArena | undefined {
	const a = wasmArena();
	if (a === undefined) return undefined;
	for (const x of arrays) if (x.buffer !== a.buffer) return undefined;
	return a;
}
