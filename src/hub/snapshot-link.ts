import { randomBytes } from "node:crypto";
import { mkdir, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, relative } from "node:path";
import { HubError } from "../errors.js";

/** A temporary name beside `path`, unique to this process and call, for write-then-rename. */
function tempBeside(path: string): string {
	return `${path}.lm-merge-${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
}

/**
 * Links `pointer` (a file in `snapshots/<commit>/`) to `blob` with a relative symlink, as huggingface_hub
 * writes them, so the cache can be moved as a whole. The link is made under a temporary name and renamed over
 * the pointer, so a reader never sees a half-made entry. File systems without symlinks are refused clearly
 * (Python copies the blob there; lm-merge does not).
 */
export async function linkPointer(pointer: string, blob: string, repo: string): Promise<void> {
	const target = relative(dirname(pointer), blob);
	const current = await readlink(pointer).catch(() => undefined);
	if (current === target) return;
	await mkdir(dirname(pointer), { recursive: true });
	const tmp = tempBeside(pointer);
	try {
		await symlink(target, tmp);
	} catch (err) {
		const code = (err as NodeJS.ErrnoException).code;
		throw new HubError(
			"Io",
			repo,
			`cannot create the symbolic link ${pointer} (${code ?? (err as Error).message}): ` +
				`the Hugging Face cache needs a file system with symlinks; set HF_HUB_CACHE to a folder on one`,
			undefined,
			{ cause: err },
		);
	}
	try {
		await rename(tmp, pointer);
	} catch (err) {
		await rm(tmp, { force: true });
		throw new HubError("Io", repo, `cannot place ${pointer}: ${(err as Error).message}`, undefined, { cause: err });
	}
}

/** Writes `refs/<revision>` (the commit id, no newline, as Python writes it) through a temporary file and a rename. */
export async function writeRef(refFile: string, commit: string): Promise<void> {
	await mkdir(dirname(refFile), { recursive: true });
	const tmp = tempBeside(refFile);
	await writeFile(tmp, commit);
	await rename(tmp, refFile);
}
