/** Small durable-write helpers: whole files and folder entries that survive a crash once these return. */
import { type FileHandle, open } from "node:fs/promises";
import { writeError } from "./writer.js";

/** Writes, fsyncs and closes one whole (small) file, created with the default mode (0666 minus the umask). */
export async function writeWholeFile(path: string, bytes: Uint8Array): Promise<void> {
	try {
		const handle = await open(path, "w");
		try {
			await handle.writeFile(bytes);
			await handle.sync();
		} finally {
			await handle.close();
		}
	} catch (err) {
		throw writeError(path, "writing the file", err);
	}
}

/** fsyncs a file that is already written and closed. */
export async function fsyncFile(file: string): Promise<void> {
	try {
		const h = await open(file, "r+");
		try {
			await h.sync();
		} finally {
			await h.close();
		}
	} catch (err) {
		throw writeError(file, "flushing the file to disk", err);
	}
}

/** fsyncs a folder so the names in it survive a crash (a no-op where folders cannot be opened, e.g. Windows). */
export async function syncDir(dir: string): Promise<void> {
	let handle: FileHandle;
	try {
		handle = await open(dir, "r");
	} catch {
		return;
	}
	try {
		await handle.sync();
	} catch (err) {
		const code = (err as NodeJS.ErrnoException).code;
		if (code !== "EINVAL" && code !== "EPERM" && code !== "EISDIR") {
			throw writeError(dir, "flushing the folder to disk", err);
		}
	} finally {
		await handle.close();
	}
}
