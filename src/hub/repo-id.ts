/** The revision used when a Hugging Face reference names none. */
export const DEFAULT_REVISION = "main";

/**
 * `org/name`: each part starts with a letter or digit and holds letters, digits, `-`, `_` and `.`, as the
 * Hub allows. Anything else cannot be a repo id, so it is never looked up in the cache or on the Hub.
 */
const REPO_ID_RE = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

/** A revision is a branch, tag or commit hash; branches may contain `/` (e.g. `refs/pr/1`) but never `..`. */
const REVISION_RE = /^[\w][\w.\-/]*$/;

/** A full git commit id, as the Hub reports it and as snapshot folders are named. */
const COMMIT_RE = /^[0-9a-f]{40}$/;

/** A parsed `org/name[@revision]`. */
export interface HfRef {
	repoId: string;
	revision: string | undefined;
}

/** Whether `repoId` is of the form `org/name` the Hub accepts. */
export function isRepoId(repoId: string): boolean {
	return REPO_ID_RE.test(repoId) && !repoId.includes("..");
}

/** Whether `revision` can be a branch, tag or commit (no `..`, no leading `/`). */
export function isRevision(revision: string): boolean {
	return REVISION_RE.test(revision) && !revision.includes("..");
}

/** Whether `revision` is a full 40-hex commit id (which, unlike a branch, can never move). */
export function isCommitHash(revision: string): boolean {
	return COMMIT_RE.test(revision);
}

/** Parses `org/name[@revision]`; undefined when `ref` is not of that shape. */
export function parseHfRef(ref: string): HfRef | undefined {
	const at = ref.indexOf("@");
	const repoId = at < 0 ? ref : ref.slice(0, at);
	const revision = at < 0 ? undefined : ref.slice(at + 1);
	if (!isRepoId(repoId)) return undefined;
	if (revision !== undefined && !isRevision(revision)) return undefined;
	return { repoId, revision };
}
