/**
 * Page-aligned byte buffers for direct (O_DIRECT) reads, which need the buffer's address, the file offset and
 * the length to be multiples of the device's block size. JavaScript cannot ask for an address, but a
 * WebAssembly memory always starts on a page boundary (its pages are mapped by the engine), so its bytes serve as
 * an aligned buffer of any size up to 4 GiB.
 */

import { constants } from "node:fs";

/** Alignment of direct reads: file offsets, lengths and buffer addresses are multiples of it (a 4 KiB page). */
export const DIRECT_ALIGN = 4096;

/** WebAssembly page size: an aligned buffer's memory grows in these steps. */
const WASM_PAGE = 65536;

/** The one WebAssembly constructor used here (the project's TypeScript libs leave out the DOM's declarations). */
type MemoryConstructor = new (d: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
const Memory = (globalThis as unknown as { WebAssembly?: { Memory: MemoryConstructor } }).WebAssembly?.Memory;

/**
 * Bytes a buffer needs to receive `bytes` bytes from any file offset by a direct read (the span rounded out to DIRECT_ALIGN on both sides).
 */
export function alignedSpan(bytes: number): number {
	return bytes === 0 ? 0 : Math.ceil(bytes / DIRECT_ALIGN) * DIRECT_ALIGN + DIRECT_ALIGN;
}

/**
 * A Uint8Array of `bytes` (at most 4 GiB) whose first byte sits at a page-aligned address (zero-filled, committed
 * by the system as it is first touched). Used by the executor's buffer pool, so every pooled buffer can take a direct read.
 */
export function allocAligned(bytes: number): Uint8Array {
	if (Memory === undefined) return new Uint8Array(bytes); // no WebAssembly: direct reads are refused and fall back
	const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
	return new Uint8Array(new Memory({ initial: pages, maximum: pages }).buffer, 0, bytes);
}

/**
 * True unless the environment turns direct I/O off (LM_MERGE_DIRECT_IO=0) or the platform has no O_DIRECT. Read
 * per call, so a process (or a test) can switch it; worker threads inherit the environment.
 */
export function directIoEnabled(): boolean {
	return constants.O_DIRECT !== undefined && process.env.LM_MERGE_DIRECT_IO !== "0";
}
