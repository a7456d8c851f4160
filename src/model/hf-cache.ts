import { stat } from "node:fs/promises";
import { readRegularText } from "../io/regular-file.js";
import { homedir } from "node:os";
import { join } from "node:path";

/** The revision used when a Hugging Face reference names none. */
export const DEFAULT_REVISION = "main";

/**
 * `org/name`: each part starts with a letter or digit and holds letters, digits, `-`, `_` and `.`, as the
 * Hub allows. Anything else cannot be a repo id, so it is never looked up in the cache.
 */
const REPO_ID_RE = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

/** A revision is a branch, tag or commit hash; branches may contain `/` (e.g. `refs/pr/1`) but never `..`. */
const REVISION_RE = /^[\w][\w.\-/]*$/;

/** A parsed `org/name[@revision]`. */
export interface HfRef {
	repoId: string;
	revision: string | undefined;
}

/** Parses `org/name[@revision]`; undefined when `ref` is not of that shape. */
export function parseHfRef(ref: string): HfRef | undefined {
	const at = ref.indexOf("@");
	const repoId = at < 0 ? ref : ref.slice(0, at);
	const revision = at < 0 ? undefined : ref.slice(at + 1);
	if (!REPO_ID_RE.test(repoId) || repoId.includes("..")) return undefined;
	if (revision !== undefined && (!REVISION_RE.test(revision) || revision.includes(".."))) return undefined;
	return { repoId, revision };
}

/**
 * The hub cache folder, as huggingface_hub picks it: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
 * `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
 */
export function hfCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
	if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
	if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
	if (env.HF_HOME) return join(env.HF_HOME, "hub");
	const cacheHome = env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache");
	return join(cacheHome, "huggingface", "hub");
}

/** `org/name` → `models--org--name`, the cache's folder for a model repo. */
export function hfRepoFolderName(repoId: string): string {
	return `models--${repoId.split("/").join("--")}`;
}

/** The outcome of a cache lookup: the snapshot folder, or every place that was tried. */
export type HfCacheLookup =
	| { found: true; path: string; commit: string; revision: string }
	| { found: false; looked: string[] };

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
