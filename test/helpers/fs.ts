/** File-system helpers: a scratch folder per test file, existence checks. */
import { closeSync, constants, openSync } from "node:fs";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

/**
 * Registers hooks that create a fresh folder `<os tmpdir>/<prefix>XXXXXX` before the file's tests and remove it
 * after them; returns its path getter, valid inside hooks and tests. Call it before the file's own `beforeAll`:
 * hooks run in order and `afterAll` hooks in reverse, so the folder exists for the other hooks and is removed last.
 */
export function useTempDir(prefix: string): () => string {
	let dir: string | undefined;
	beforeAll(async () => {
		dir = await mkdtemp(join(tmpdir(), prefix));
	});
	afterAll(async () => {
		if (dir !== undefined) await rm(dir, { recursive: true, force: true });
	});
	return () => {
		if (dir === undefined) throw new Error(`the ${prefix} temp folder is used outside a hook or test`);
		return dir;
	};
}

/** Whether `p` exists (any kind of entry). */
export const exists = (p: string): Promise<boolean> =>
	access(p).then(
		() => true,
		() => false,
	);

/**
 * Whether `file` can be opened with O_DIRECT for reading, or for writing with `write` (false on file systems that
 * refuse it, where the library falls back to ordinary I/O and tests of the direct path are skipped).
 */
export function acceptsDirectIo(file: string, write = false): boolean {
	try {
		closeSync(openSync(file, (write ? constants.O_WRONLY : constants.O_RDONLY) | constants.O_DIRECT));
		return true;
	} catch {
		return false;
	}
}
