/**
 * Reusable byte buffers for the executor. Each fresh allocation of hundreds of megabytes costs a page fault
 * per 4 KiB page when it is first touched (on a virtual machine about a microsecond each, and the kernel zeroes
 * every page): a 2-layer Mistral-width merge that allocated its input and output buffers per tensor spent more
 * time in the kernel than in its kernels. The executor's streamed jobs use buffers of a few sizes over and over,
 * so they take them from a pool and give them back when a tensor is done.
 */
import { allocAligned } from "../io/aligned.js";

/**
 * Bytes a pool keeps in free buffers between jobs: the chunk rings and blocks of a streamed job with three inputs
 * (each ring is four 8 MB chunks in bf16); anything beyond is released, so an idle pool never holds more.
 */
export const POOL_KEEP_BYTES = 160 * 2 ** 20;


/** A taken buffer is at most this many times larger than asked (so a huge buffer is not tied up by a tiny job). */
const BEST_FIT_SLACK = 2;

/**
 * A free list of ArrayBuffers, best fit first. `take` returns a Uint8Array of exactly the asked length (a view of
 * a possibly larger buffer); `give` takes it back. Not thread-safe: one pool per thread.
 */
export class BufferPool {
	private readonly free: ArrayBuffer[] = [];
	private freeBytes = 0;
	/** The buffers this pool allocated page-aligned (io/aligned.ts). */
	private readonly aligned = new WeakSet<ArrayBuffer>();

	/** Bytes of hold allowance granted and not yet released, and the jobs waiting for theirs. */
	private held = 0;
	private readonly waiters: { want: number; resolve: () => void }[] = [];
	private readonly keepBytes: number;

	/**
	 * `keep` bytes of free buffers are kept between jobs, plus the `hold` allowance (whose buffers the next job
	 * holding chunks takes again).
	 */
	constructor(keep = POOL_KEEP_BYTES, private readonly holdBytes = 0) {
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
	 * starts at a page-aligned address, so it can take a direct read (at most 4 GiB; its memory is rounded up to
	 * 64 KiB).
	 */
	take(bytes: number, aligned = false): Uint8Array {
		let best = -1;
		for (let i = 0; i < this.free.length; i++) {
			const size = this.free[i]!.byteLength;
			if (aligned && !this.aligned.has(this.free[i]!)) continue;
			if (size >= bytes && size <= Math.max(bytes * BEST_FIT_SLACK, 4096) && (best < 0 || size < this.free[best]!.byteLength)) best = i;
		}
		if (best >= 0) {
			const buffer = this.free.splice(best, 1)[0]!;
			this.freeBytes -= buffer.byteLength;
			return new Uint8Array(buffer, 0, bytes);
		}
		// Make room first, so free and fresh buffers together stay within what the pool may keep (or this job).
		while (this.free.length > 0 && this.freeBytes + bytes > this.keepBytes) {
			this.freeBytes -= this.free.shift()!.byteLength;
		}
		if (aligned) {
			const view = allocAligned(bytes);
			this.aligned.add(view.buffer as ArrayBuffer);
			return view;
		}
		const fresh = Buffer.allocUnsafeSlow(bytes);
		return new Uint8Array(fresh.buffer, fresh.byteOffset, bytes);
	}

	/** Returns buffers obtained from `take`; the pool keeps at most `keepBytes` of them, newest first. */
	give(...views: (Uint8Array | undefined)[]): void {
		for (const view of views) {
			if (view === undefined) continue;
			const buffer = view.buffer as ArrayBuffer;
			if (buffer.byteLength > this.keepBytes || this.free.includes(buffer)) continue;
			this.free.push(buffer);
			this.freeBytes += buffer.byteLength;
		}
		while (this.freeBytes > this.keepBytes) {
			const old = this.free.shift()!;
			this.freeBytes -= old.byteLength;
		}
	}

	/** Bytes currently kept in free buffers. */
	get keptBytes(): number {
		return this.freeBytes;
	}
}
