import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The hub cache folder, as huggingface_hub picks it: `HF_HUB_CACHE`, else the legacy
 * `HUGGINGFACE_HUB_CACHE`, else `HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
 * `~/.cache/huggingface/hub`.
 */
export function hfCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
	if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
	if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
	return join(hfHome(env), "hub");
}

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface` (where the token file lives too). */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
	if (env.HF_HOME) return env.HF_HOME;
	const cacheHome = env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache");
	return join(cacheHome, "huggingface");
}

/** `org/name` → `models--org--name`, the cache's folder for a model repo. */
export function hfRepoFolderName(repoId: string): string {
	return `models--${repoId.split("/").join("--")}`;
}

/**
 * Every path of one model repo in the cache, laid out as huggingface_hub writes it:
 * `blobs/<etag>` (content, named by the LFS sha256 or the git blob sha1), `snapshots/<commit>/<file>`
 * (relative symlinks to blobs), `refs/<branch or tag>` (a commit id), and the per-blob lock file
 * `<cache>/.locks/models--org--name/<etag>.lock` that Python's downloader holds while it writes.
 */
export class RepoCache {
	readonly repoDir: string;

	constructor(
		readonly cacheRoot: string,
		readonly repoId: string,
	) {
		this.repoDir = join(cacheRoot, hfRepoFolderName(repoId));
	}

	blob(etag: string): string {
		return join(this.repoDir, "blobs", etag);
	}

	/** Where a blob is written until it is complete and verified (the name Python uses, so either can resume the other's). */
	incomplete(etag: string): string {
		return `${this.blob(etag)}.incomplete`;
	}

	lock(etag: string): string {
		return join(this.cacheRoot, ".locks", hfRepoFolderName(this.repoId), `${etag}.lock`);
	}

	snapshot(commit: string): string {
		return join(this.repoDir, "snapshots", commit);
	}

	pointer(commit: string, file: string): string {
		return join(this.snapshot(commit), ...file.split("/"));
	}

	ref(revision: string): string {
		return join(this.repoDir, "refs", ...revision.split("/"));
	}
}
