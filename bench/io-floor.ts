/**
 * The I/O floor of a merge: the time to read every input file once and to write and fsync as many bytes as
 * the merge writes, with plain positioned `fs` calls and nothing else. A merge cannot beat it (it has to move
 * the same bytes), so wall / floor says how much the decode, kernel and encode work costs on top of the I/O.
 * Read then write run one after the other, so the floor is conservative: a merge overlaps them.
 */
import { randomFillSync } from "node:crypto";
import { open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Size of each positioned read and write: the slice size the library's reader and writer use. */
export const FLOOR_CHUNK_BYTES = 16 * 2 ** 20;

/** The linux knob that empties the page cache (needs root). */
const DROP_CACHES = "/proc/sys/vm/drop_caches";

/** One floor measurement. */
export interface IoFloor {
	readSeconds: number;
	writeSeconds: number;
	seconds: number;
	readBytes: number;
	writeBytes: number;
}

/**
 * Flushes dirty pages and empties the page cache so the next read comes from the disk. Resolves to false
 * (and changes nothing) when that is not allowed, e.g. not root or not Linux.
 */
export async function dropCaches(): Promise<boolean> {
	try {
		const { execFileSync } = await import("node:child_process");
		execFileSync("sync");
		await writeFile(DROP_CACHES, "3\n");
		return true;
	} catch {
		return false;
	}
}

/** The safetensors files (shards) of a model folder, sorted by name, with their sizes. */
export async function modelFiles(dir: string): Promise<Array<{ path: string; bytes: number }>> {
	const names = (await readdir(dir)).filter((n) => n.endsWith(".safetensors")).sort();
	return Promise.all(names.map(async (n) => ({ path: join(dir, n), bytes: (await stat(join(dir, n))).size })));
}

/** Reads `path` fully with FLOOR_CHUNK_BYTES positioned reads into `buf`; returns the byte count. */
async function readWhole(path: string, buf: Uint8Array): Promise<number> {
	const handle = await open(path, "r");
	try {
		let pos = 0;
		for (;;) {
			const { bytesRead } = await handle.read(buf, 0, buf.byteLength, pos);
			if (bytesRead === 0) return pos;
			pos += bytesRead;
		}
	} finally {
		await handle.close();
	}
}

/** Writes `bytes` bytes to a new file `path` in FLOOR_CHUNK_BYTES chunks of `buf`, then fsyncs it. */
async function writeAndSync(path: string, bytes: number, buf: Uint8Array): Promise<void> {
	const handle = await open(path, "w");
	try {
		for (let pos = 0; pos < bytes; ) {
			const n = Math.min(buf.byteLength, bytes - pos);
			const { bytesWritten } = await handle.write(buf, 0, n, pos);
			pos += bytesWritten;
		}
		await handle.sync();
	} finally {
		await handle.close();
	}
}

/**
 * Measures the floor: reads every file in `inputs` once, then writes and fsyncs `writeBytes` bytes to a
 * scratch file in `scratchDir` (removed afterwards). The caller decides about the page cache (dropCaches).
 */
export async function measureIoFloor(inputs: readonly string[], writeBytes: number, scratchDir: string): Promise<IoFloor> {
	// Random bytes, like a merge's output (a virtual disk may store runs of zeros more cheaply); filling also
	// touches every page before timing.
	const buf = randomFillSync(new Uint8Array(FLOOR_CHUNK_BYTES));
	let t = performance.now();
	let readBytes = 0;
	for (const path of inputs) readBytes += await readWhole(path, buf);
	const readSeconds = (performance.now() - t) / 1000;
	const scratch = join(scratchDir, "io-floor.bin");
	t = performance.now();
	let writeSeconds: number;
	try {
		await writeAndSync(scratch, writeBytes, buf);
		writeSeconds = (performance.now() - t) / 1000;
	} finally {
		await rm(scratch, { force: true });
	}
	return { readSeconds, writeSeconds, seconds: readSeconds + writeSeconds, readBytes, writeBytes };
}
