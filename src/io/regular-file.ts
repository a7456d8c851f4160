/**
 * Opening files that must be regular files. A FIFO, a socket or a device named where a model, recipe, config or
 * data file is expected would otherwise hang the open (a FIFO waits for a writer) or read forever (`/dev/zero`
 * has size 0 and never ends). Opening with O_NONBLOCK returns at once even for a FIFO; the handle's own fstat
 * then decides, so there is no window between a check and the open. On a regular file O_NONBLOCK changes nothing.
 */
import { constants, type Stats } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

/** Builds the error for a file that cannot be used; each caller raises its own domain's error class. */
type FileErrorFactory = (message: string) => Error;

/** What a non-regular file is, in words: "is a FIFO (named pipe)", "is a directory", ... */
export function describeFileType(stats: Stats): string {
	if (stats.isDirectory()) return "is a directory";
	if (stats.isFIFO()) return "is a FIFO (named pipe)";
	if (stats.isSocket()) return "is a socket";
	if (stats.isCharacterDevice()) return "is a character device";
	if (stats.isBlockDevice()) return "is a block device";
	return "is not a regular file";
}

/**
 * Opens `path` for reading and returns the handle and the file's size, or throws `fail("<type>, not a regular
 * file")` for anything but a regular file (the handle is closed first). Errors of the open itself (ENOENT,
 * EACCES, ENXIO for a socket) are thrown unchanged, so callers keep their own handling of a missing file.
 */
export async function openRegularFile(path: string, fail: FileErrorFactory): Promise<{ handle: FileHandle; size: number }> {
	const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
	try {
		const stats = await handle.stat();
		if (!stats.isFile()) throw fail(`${describeFileType(stats)}, not a regular file`);
		return { handle, size: stats.size };
	} catch (err) {
		await handle.close().catch(() => undefined);
		throw err;
	}
}

/**
 * Reads a whole regular file, refusing one above `maxBytes` (named in the message) before reading it. The size
 * is that of the open file, and reading stops at it, so a file that grows meanwhile cannot exceed the limit.
 */
export async function readRegularFile(path: string, opts: { maxBytes: number; fail: FileErrorFactory }): Promise<Buffer> {
	const { handle, size } = await openRegularFile(path, opts.fail);
	try {
		if (size > opts.maxBytes) throw opts.fail(`is ${size} bytes, above the ${opts.maxBytes}-byte limit`);
		const buf = Buffer.alloc(size);
		let done = 0;
		while (done < size) {
			const { bytesRead } = await handle.read(buf, done, size - done, done);
			if (bytesRead === 0) break;
			done += bytesRead;
		}
		return done === size ? buf : buf.subarray(0, done);
	} finally {
		await handle.close();
	}
}

/** readRegularFile decoded as UTF-8, without a leading byte-order mark. */
export async function readRegularText(path: string, opts: { maxBytes: number; fail: FileErrorFactory }): Promise<string> {
	return (await readRegularFile(path, opts)).toString("utf8").replace(/^\uFEFF/, "");
}
