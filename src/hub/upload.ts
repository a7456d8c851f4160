import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { commitIter, createRepo } from "@huggingface/hub";
import { HubError } from "../errors.js";
import type { UploadEvent, UploadResult } from "./events.js";
import { asHubError, createHubFetch, type HubRequestContext } from "./hub-fetch.js";
import { DEFAULT_REVISION, isRepoId, isRevision } from "./repo-id.js";
import { type HubOptions, hubSettings } from "./settings.js";

/** Options of {@link uploadFolder}: visibility of a new repo, commit title, branch, cancellation, the Hub settings. */
export interface UploadOptions extends HubOptions {
	/** Create the repo private when it does not exist yet (an existing repo keeps its visibility). */
	private?: boolean;
	/** The commit's title (default "Upload <folder name> with lm-merge"). */
	commitMessage?: string;
	/** The branch to commit to (default "main"). */
	branch?: string;
	signal?: AbortSignal;
}

/**
 * Files of `dir`, recursively, as `/`-separated relative paths; hidden entries (`.git`, `.cache`, …) are skipped, as `huggingface-cli
 * upload` skips them.
 */
async function folderFiles(dir: string, sub = ""): Promise<Array<{ path: string; abs: string; size: number }>> {
	const out: Array<{ path: string; abs: string; size: number }> = [];
	for (const e of (await readdir(join(dir, sub), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
		if (e.name.startsWith(".")) continue;
		const rel = sub === "" ? e.name : `${sub}/${e.name}`;
		const abs = join(dir, rel);
		const s = await stat(abs);
		if (s.isDirectory()) out.push(...(await folderFiles(dir, rel)));
		else if (s.isFile()) out.push({ path: rel, abs, size: s.size });
	}
	return out;
}

/**
 * Uploads every file of `folder` (hidden ones excepted) to the model repo `repoId` as one commit, creating the
 * repo first when it does not exist (`private` then decides its visibility). Large files go through Git LFS
 * (@huggingface/hub hashes them and uploads what the Hub does not have yet); small ones travel in the commit.
 * Needs a token with write access. Yields progress events; returns the commit.
 */
export async function* uploadFolderIter(
	folder: string,
	repoId: string,
	opts: UploadOptions = {},
): AsyncGenerator<UploadEvent, UploadResult> {
	const started = Date.now();
	const branch = opts.branch ?? DEFAULT_REVISION;
	if (!isRepoId(repoId)) throw new HubError("RepoNotFound", repoId, "not a Hub repo id (expected org/name)");
	if (!isRevision(branch)) throw new HubError("RevisionNotFound", repoId, `"${branch}" is not a valid branch name`);
	const dir = resolve(folder);
	const isDir = await stat(dir).then(
		(s) => s.isDirectory(),
		() => false,
	);
	if (!isDir) throw new HubError("Io", repoId, `${dir}: no such folder to upload`);
	const files = await folderFiles(dir);
	if (files.length === 0) throw new HubError("Io", repoId, `${dir}: the folder has no files to upload`);
	const settings = await hubSettings(opts);
	if (settings.offline) throw new HubError("Offline", repoId, "cannot upload in offline mode (HF_HUB_OFFLINE or --offline)");
	if (settings.token === undefined) {
		throw new HubError("Unauthorized", repoId, "uploading needs a token with write access: set HF_TOKEN or run `huggingface-cli login`");
	}
	const ctx: HubRequestContext = { repo: repoId, endpoint: settings.endpoint, token: settings.token };
	const common = { hubUrl: settings.endpoint, accessToken: settings.token.token };
	const signal = opts.signal !== undefined ? { signal: opts.signal } : {};

	let created = true;
	try {
		await createRepo({
			...common,
			repo: repoId,
			...(opts.private === true ? { visibility: "private" as const } : {}),
			fetch: createHubFetch(ctx, "create repo", signal),
		});
	} catch (err) {
		if (!(err instanceof HubError && err.kind === "Conflict")) throw asHubError(err, ctx, "create repo");
		created = false;
	}
	const bytes = files.reduce((s, f) => s + f.size, 0);
	yield { event: "planned", repo: repoId, files: files.length, bytes, created };

	const gen = commitIter({
		...common,
		repo: repoId,
		branch,
		title: opts.commitMessage ?? `Upload ${files.length} files with lm-merge`,
		operations: files.map((f) => ({ operation: "addOrUpdate" as const, path: f.path, content: pathToFileURL(f.abs) })),
		// Plain Git LFS: the transfer every Hub and mirror speaks (Xet is an optimisation the Hub negotiates away from when refused).
		useXet: false,
		...(opts.signal !== undefined ? { abortSignal: opts.signal } : {}),
		fetch: createHubFetch(ctx, "upload", { ...signal, timeoutMs: 0 }),
	});
	let output: Awaited<ReturnType<typeof gen.next>>;
	try {
		for (;;) {
			output = await gen.next();
			if (output.done === true) break;
			const e = output.value;
			if (e.event === "phase") yield { event: "phase", phase: e.phase };
			else if (e.state !== "error") yield { event: "fileProgress", path: e.path, state: e.state, progress: e.progress };
		}
	} catch (err) {
		throw asHubError(err, ctx, "upload");
	}
	const commit = output.value;
	if (commit === undefined) throw new HubError("InvalidResponse", repoId, "the Hub did not return the new commit");
	const seconds = (Date.now() - started) / 1000;
	yield { event: "done", repo: repoId, commit: commit.commit.oid, url: commit.commit.url, seconds };
	return { repo: repoId, commit: commit.commit.oid, url: commit.commit.url, files: files.map((f) => f.path), bytes, created, seconds };
}

/** uploadFolderIter() without the events. */
export async function uploadFolder(
	folder: string,
	repoId: string,
	opts: UploadOptions & { onEvent?: (e: UploadEvent) => void } = {},
): Promise<UploadResult> {
	const gen = uploadFolderIter(folder, repoId, opts);
	for (;;) {
		const r = await gen.next();
		if (r.done === true) return r.value;
		opts.onEvent?.(r.value);
	}
}
