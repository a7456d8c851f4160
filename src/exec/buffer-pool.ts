/**
 * Reusable byte buffers for the executor. Each fresh allocation of hundreds of megabytes costs a page fault
 * per 4 KiB page when it is first touched (on a virtual machine about a microsecond each, and the kernel zeroes
 * every page): a 2-layer Mistral-width merge that allocated its input and output buffers per tensor spent more
 * time in the kernel than in its kernels. The executor's streamed jobs use buffers of a few sizes over and over,
 * so they take them from a pool and give them back when a tensor is done.
 */
import { allocAligned } from "../io/aligned.js";
import { wasmArena } from "../wasm/kernels.js";

/**
 * Bytes a pool keeps in free buffers between jobs: the chunk rings and blocks of a streamed job with three inputs
 * (each ring is four 8 MB chunks in bf16); anything beyond is released, so an idle pool never holds more.
 */
export const POOL_KEEP_BYTES = 160 * 2 ** 20;

/** A taken buffer is at most this many times larger than asked (so a huge buffer is not tied up by a tiny job). */
const BEST_FIT_SLACK = 2;

/**
 * A free list of buffers, best fit first. `take` returns a Uint8Array of exactly the asked length (a view at the start
 * of a possibly larger block); `give` takes it back. Not thread-safe: one pool per thread.
 *
 * Aligned buffers come from this thread's WebAssembly arena while its heap has room (wasm/kernels.ts): the
 * compiled conversions then decode a chunk straight from the buffer a direct read filled and encode straight into
 * the buffer a direct write sends, with no copy in or out of the arena. Blocks dropped beyond `keep`, and all free
 * blocks at `dispose`, go back to the arena's heap (for the thread's other pools); other buffers to the collector.
 */
export class BufferPool {
	/** Free blocks, oldest first. */
	private readonly free: Uint8Array[] = [];
	/** Bytes of free blocks. */
	private freeBytes = 0;
	/** Every block this pool handed out, by its memory and offset (a view given back is matched to its block). */
	private readonly blocks = new WeakMap<ArrayBuffer, Map<number, Uint8Array>>();
	/** Blocks that start on a page (and so can take direct I/O). */
	private readonly aligned = new WeakSet<Uint8Array>();
	/** Bytes of hold allowance granted and not yet released, and the jobs waiting for theirs. */
	private held = 0;
	private readonly waiters: { want: number; resolve: () => void }[] = [];
	private readonly keepBytes: number;

	/**
	 * `keep` bytes of free buffers are kept between jobs, plus the `hold` allowance (whose buffers the next job
	 * holding chunks takes again).
	 */
	constructor(
		keep = POOL_KEEP_BYTES,
		private readonly holdBytes = 0,
	) {
		this.keepBytes = keep + holdBytes;
	}

	/**
	 * Grants min(bytes, allowance) of the hold allowance, waiting (first come, first served) until that much is
	 * free: two scanning jobs of a thread then run one after the other when they cannot both keep their chunks,
	 * instead of side by side re-reading what neither could keep. Give the grant back with `releaseHold`.
	 */
	async acquireHold(bytes: number): Promise<number> {
		const want = Math.max(0, Math.min(bytes, this.holdBytes));
		if (this.waiters.length > 0 || this.held + want > this.holdBytes) {
			await new Promise<void>((resolve) => this.waiters.push({ want, resolve }));
		} else {
			this.held += want;
		}
		return want;
	}

	releaseHold(bytes: number): void {
		this.held = Math.max(0, this.held - bytes);
		// Wake waiters in order while the first one fits (its grant is counted here, before it resumes).
		while (this.waiters.length > 0 && this.held + this.waiters[0]!.want <= this.holdBytes) {
			const next = this.waiters.shift()!;
			this.held += next.want;
			next.resolve();
		}
	}

	/**
	 * A buffer of `bytes` bytes with unspecified contents (the caller overwrites what it reads). With `aligned` it
	 * starts at a page-aligned address, so it can take direct I/O (at most 4 GiB; outside the arena its memory is
	 * rounded up to 64 KiB).
	 */
	take(bytes: number, aligned = false): Uint8Array {
		let best = -1;
		for (let i = 0; i < this.free.length; i++) {
			const block = this.free[i]!;
			if (aligned && !this.aligned.has(block)) continue;
			const size = block.byteLength;
			if (size >= bytes && size <= Math.max(bytes * BEST_FIT_SLACK, 4096) && (best < 0 || size < this.free[best]!.byteLength)) best = i;
		}
		if (best >= 0) {
			const block = this.free.splice(best, 1)[0]!;
			this.freeBytes -= block.byteLength;
			return block.subarray(0, bytes);
		}
		// Make room first, so free and fresh buffers together stay within what the pool may keep (or this job).
		this.trim(bytes);
		let block: Uint8Array;
		if (aligned) {
			block = wasmArena()?.allocate(bytes) ?? allocAligned(bytes);
			this.aligned.add(block);
		} else {
			const fresh = Buffer.allocUnsafeSlow(bytes);
			block = new Uint8Array(fresh.buffer, fresh.byteOffset, bytes);
		}
		const buffer = block.buffer as ArrayBuffer;
		let byOffset = this.blocks.get(buffer);
		if (byOffset === undefined) {
			byOffset = new Map();
			this.blocks.set(buffer, byOffset);
		}
		byOffset.set(block.byteOffset, block);
		return block;
	}

	/** Returns buffers obtained from `take`; the pool keeps at most `keepBytes` of them, newest first. */
	give(...views: (Uint8Array | undefined)[]): void {
		for (const view of views) {
			if (view === undefined) continue;
			const block = this.blocks.get(view.buffer as ArrayBuffer)?.get(view.byteOffset);
			if (block === undefined || this.free.includes(block)) continue;
			this.free.push(block);
			this.freeBytes += block.byteLength;
			// A block larger than the pool keeps goes at once, not the older ones first.
			if (block.byteLength > this.keepBytes) this.drop(this.free.length - 1);
		}
		this.trim(0);
	}

	/** Gives every free block up (arena blocks back to the arena's heap); the pool stays usable. */
	dispose(): void {
		this.trim(Number.POSITIVE_INFINITY);
	}

	/** Drops the oldest free blocks until `room` more bytes fit within keepBytes (arena blocks back to the arena). */
	private trim(room: number): void {
		while (this.free.length > 0 && this.freeBytes + room > this.keepBytes) this.drop(0);
	}

	private drop(i: number): void {
		const block = this.free.splice(i, 1)[0]!;
		this.freeBytes -= block.byteLength;
		this.blocks.get(block.buffer as ArrayBuffer)?.delete(block.byteOffset);
		const arena = wasmArena();
		if (arena?.holds(block) === true) arena.release(block);
	}

	/** Bytes currently kept in free buffers. */
	get keptBytes(): number {
		return this.freeBytes;
	}
}
