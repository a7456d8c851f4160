import { stat } from "node:fs/promises";
import { join } from "node:path";
import { hfRepoFolderName } from "../hub/cache-layout.js";
import { DEFAULT_REVISION, type HfRef } from "../hub/repo-id.js";
import { readRegularText } from "../io/regular-file.js";

// The cache layout and reference syntax belong to hub/; re-exported here for the model layer's callers.
export { hfCacheRoot, hfRepoFolderName } from "../hub/cache-layout.js";
export { DEFAULT_REVISION, type HfRef, parseHfRef } from "../hub/repo-id.js";

/** The outcome of a cache lookup: the snapshot folder, or every place that was tried. */
type HfCacheLookup = { found: true; path: string; commit: string; revision: string } | { found: false; looked: string[] };

async function isDir(path: string): Promise<boolean> {
	try {
		return (await stat(path)).isDirectory();
	} catch {
		return false;
	}
}

/** A ref file holds a commit hash (40 hex characters and maybe a newline); 4 KiB is generous. */
const MAX_REF_FILE_BYTES = 4096;

/**
 * Finds `models--org--name/snapshots/<commit>/` for a revision: first as a branch or tag
 * (`refs/<revision>` holds the commit hash), then as a snapshot folder named after the commit itself.
 */
export async function findInHfCache(ref: HfRef, cacheRoot: string): Promise<HfCacheLookup> {
	const repoDir = join(cacheRoot, hfRepoFolderName(ref.repoId));
	const revision = ref.revision ?? DEFAULT_REVISION;
	const refFile = join(repoDir, "refs", revision);
	const looked = [refFile];
	let commit: string | undefined;
	try {
		// A ref file holds one 40-character commit hash; anything that is not a small regular file is no ref.
		commit = (await readRegularText(refFile, { maxBytes: MAX_REF_FILE_BYTES, fail: (why) => new Error(why) })).trim();
	} catch {
		commit = undefined;
	}
	if (commit !== undefined && commit !== "" && !commit.includes("/") && !commit.includes("..")) {
		const snapshot = join(repoDir, "snapshots", commit);
		if (await isDir(snapshot)) return { found: true, path: snapshot, commit, revision };
		looked.push(snapshot);
	}
	if (!revision.includes("/")) {
		const direct = join(repoDir, "snapshots", revision);
		if (await isDir(direct)) return { found: true, path: direct, commit: revision, revision };
		looked.push(direct);
	}
	return { found: false, looked };
}
