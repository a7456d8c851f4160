/**
 * The I/O floor of a merge: the time to read every input file once and to write and fsync as many bytes as
 * the merge writes, with plain positioned `fs` calls and nothing else. A merge cannot beat it (it has to move
 * the same bytes), so wall / floor says how much the decode, kernel and encode work costs on top of the I/O.
 * Read then write run one after the other, so the floor is conservative: a merge overlaps them.
 *
 * The floor comes in two forms. The plain one reads and writes through the page cache, as `cp` does. The direct one
 * uses O_DIRECT, as the merge's streamed jobs do (aligned 16 MiB transfers, the last partial page written plainly):
 * on a virtual machine where page-cache copies are costly it can be much faster, and a merge compared only with the
 * plain floor would look better than it is. The bench compares each merge with the lower of the two.
 */
import { randomFillSync } from "node:crypto";
import { constants } from "node:fs";
import { open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { allocAligned, DIRECT_ALIGN } from "../src/io/aligned.js";

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

/** Reads `path` fully with FLOOR_CHUNK_BYTES positioned reads into `buf` (direct: O_DIRECT); returns the byte count. */
async function readWhole(path: string, buf: Uint8Array, direct: boolean): Promise<number> {
	const handle = await open(path, direct ? constants.O_RDONLY | constants.O_DIRECT : "r");
	try {
		let pos = 0;
		for (;;) {
			const { bytesRead } = await handle.read(buf, 0, buf.byteLength, pos);
			if (bytesRead === 0) return pos;
			pos += bytesRead;
			// A direct read ends short only at the end of the file (and may not go on from an unaligned offset).
			if (direct && bytesRead < buf.byteLength) return pos;
		}
	} finally {
		await handle.close();
	}
}

/**
 * Writes `bytes` bytes to a new file `path` in FLOOR_CHUNK_BYTES chunks of `buf`, then fsyncs it. Direct: the whole
 * pages through an O_DIRECT handle, the last partial page through the plain one.
 */
async function writeAndSync(path: string, bytes: number, buf: Uint8Array, direct: boolean): Promise<void> {
	const handle = await open(path, "w");
	const fast = direct ? await open(path, constants.O_WRONLY | constants.O_DIRECT) : handle;
	try {
		const pages = direct ? bytes - (bytes % DIRECT_ALIGN) : bytes;
		for (let pos = 0; pos < bytes; ) {
			const through = pos < pages ? fast : handle;
			const n = Math.min(buf.byteLength, (pos < pages ? pages : bytes) - pos);
			const { bytesWritten } = await through.write(buf, 0, n, pos);
			pos += bytesWritten;
		}
		await handle.sync();
	} finally {
		if (fast !== handle) await fast.close();
		await handle.close();
	}
}

/** Whether `path` can be opened for direct reads (O_DIRECT exists here and its file system accepts it). */
export async function directIoWorks(path: string): Promise<boolean> {
	if (constants.O_DIRECT === undefined) return false;
	try {
		await (await open(path, constants.O_RDONLY | constants.O_DIRECT)).close();
		return true;
	} catch {
		return false;
	}
}

/**
 * Measures the floor: reads every file in `inputs` once, then writes and fsyncs `writeBytes` bytes to a
 * scratch file in `scratchDir` (removed afterwards), through the page cache or, with `direct`, past it (the caller
 * checks directIoWorks first). The caller decides about the page cache (dropCaches).
 */
export async function measureIoFloor(
	inputs: readonly string[],
	writeBytes: number,
	scratchDir: string,
	opts: { direct?: boolean } = {},
): Promise<IoFloor> {
	const direct = opts.direct === true;
	// Random bytes, like a merge's output (a virtual disk may store runs of zeros more cheaply); filling also
	// touches every page before timing. Page-aligned, as direct transfers need.
	const buf = randomFillSync(allocAligned(FLOOR_CHUNK_BYTES));
	let t = performance.now();
	let readBytes = 0;
	for (const path of inputs) readBytes += await readWhole(path, buf, direct);
	const readSeconds = (performance.now() - t) / 1000;
	const scratch = join(scratchDir, "io-floor.bin");
	t = performance.now();
	let writeSeconds: number;
	try {
		await writeAndSync(scratch, writeBytes, buf, direct);
		writeSeconds = (performance.now() - t) / 1000;
	} finally {
		await rm(scratch, { force: true });
	}
	return { readSeconds, writeSeconds, seconds: readSeconds + writeSeconds, readBytes, writeBytes };
}
