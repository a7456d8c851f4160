import { readFile, stat } from "node:fs/promises";
import { modelInfo, type PathInfo, pathsInfo } from "@huggingface/hub";
import { HubError } from "../errors.js";
import { RepoCache } from "./cache-layout.js";
import { EventQueue } from "./event-queue.js";
import type { DownloadEvent, DownloadResult } from "./events.js";
import type { BlobTarget } from "./fetch-blob.js";
import { asHubError, createHubFetch, type HubRequestContext } from "./hub-fetch.js";
import { DEFAULT_REVISION, isCommitHash, isRepoId, isRevision } from "./repo-id.js";
import { type FileSelector, isSafeRepoPath, selectMergeFiles, shardsOfIndex } from "./select-files.js";
import { type HubOptions, type HubSettings, hubSettings } from "./settings.js";
import { writeRef } from "./snapshot-link.js";
import { snapshotIsComplete } from "./snapshot-status.js";
import { type SnapshotEntry, SnapshotTransfers } from "./snapshot-transfers.js";

/** Options of {@link downloadSnapshot}: which revision and files, parallelism, cancellation, and the Hub settings. */
export interface DownloadOptions extends HubOptions {
	/** Branch, tag or commit (default "main"). */
	revision?: string;
	/** Which files to fetch (default: what a merge needs, selectMergeFiles). */
	select?: FileSelector;
	/** Files transferred at once (default DEFAULT_CONCURRENCY). */
	concurrency?: number;
	signal?: AbortSignal;
	/** Only for tests: wait before a retry. */
	retryDelayMs?: number;
}

/** Parallel transfers: enough to fill a link when one connection is throttled, few enough to be polite to the Hub. */
const DEFAULT_CONCURRENCY = 4;

/** How many paths one paths-info request names (the Hub pages larger lists). */
const PATHS_INFO_BATCH = 100;

/**
 * Brings a Hub repo revision into the Hugging Face cache (the layout Python uses: `blobs/`, `snapshots/<commit>/`,
 * `refs/<revision>`), fetching only the files `select` names (by default what a merge needs) that are not
 * there yet. Transfers run in parallel (bounded), resume partial `.incomplete` files with Range requests, are
 * checked against the Hub's sha256 (git sha1 for small files) before they are linked, and hold Python's
 * per-blob lock. Yields progress events; returns the snapshot folder.
 */
export async function* downloadSnapshotIter(repoId: string, opts: DownloadOptions = {}): AsyncGenerator<DownloadEvent, DownloadResult> {
	const started = Date.now();
	const revision = opts.revision ?? DEFAULT_REVISION;
	if (!isRepoId(repoId)) throw new HubError("RepoNotFound", repoId, "not a Hub repo id (expected org/name)");
	if (!isRevision(revision)) throw new HubError("RevisionNotFound", `${repoId}@${revision}`, "not a valid revision name");
	const settings = await hubSettings(opts);
	const cache = new RepoCache(settings.cacheRoot, repoId);
	const select = opts.select ?? selectMergeFiles;
	const label = revision === DEFAULT_REVISION ? repoId : `${repoId}@${revision}`;
	const ctx: HubRequestContext = { repo: label, endpoint: settings.endpoint, token: settings.token };

	// A commit id never moves, so a complete snapshot of it needs no request; offline, a branch is taken as last seen.
	const local = isCommitHash(revision) ? revision : settings.offline ? await readRef(cache.ref(revision)) : undefined;
	if (local !== undefined && (await snapshotIsComplete(cache.snapshot(local), select))) {
		const seconds = (Date.now() - started) / 1000;
		yield { event: "done", path: cache.snapshot(local), commit: local, downloadedBytes: 0, seconds };
		return { repoId, revision, commit: local, path: cache.snapshot(local), files: [], downloadedBytes: 0, cachedBytes: 0, seconds };
	}
	if (settings.offline) {
		throw new HubError(
			"Offline",
			label,
			`not in the cache (${cache.repoDir}) and offline mode is on (HF_HUB_OFFLINE or --offline): nothing can be downloaded`,
		);
	}

	const info = await modelInfo({
		name: repoId,
		revision,
		additionalFields: ["sha", "filePaths"],
		hubUrl: settings.endpoint,
		...(settings.token !== undefined ? { accessToken: settings.token.token } : {}),
		fetch: createHubFetch(ctx, `revision ${revision}`, { ...(opts.signal !== undefined ? { signal: opts.signal } : {}) }),
	}).catch((err: unknown) => {
		throw asHubError(err, ctx, `revision ${revision}`);
	});
	const commit = info.sha;
	if (typeof commit !== "string" || !isCommitHash(commit))
		throw new HubError("InvalidResponse", label, `the Hub gave no commit id for revision ${revision}`);
	const repoFiles = info.filePaths ?? [];
	const unsafe = repoFiles.find((p) => !isSafeRepoPath(p));
	if (unsafe !== undefined)
		throw new HubError(
			"InvalidResponse",
			label,
			`the Hub lists a file named ${JSON.stringify(unsafe)}, which is not a safe relative path; refusing to write it`,
		);
	const selection = select(repoFiles);
	if (selection.files.length === 0)
		throw new HubError(
			"EntryNotFound",
			label,
			`none of the files a merge needs is in the repo (it has: ${repoFiles.slice(0, 10).join(", ") || "no files"})`,
		);

	const describe = (paths: string[]) => describeFiles(paths, { repoId, commit, cache, settings, ctx, signal: opts.signal });
	const entries = await describe(selection.files);
	const events = new EventQueue<DownloadEvent>();
	const transfer = new SnapshotTransfers(entries, { ...opts, ctx, cache, events });

	// The index names the shards: fetch it first, then describe them.
	if (selection.index !== undefined) {
		const indexEntry = entries.find((e) => e.target.path === selection.index)!;
		await transfer.one(indexEntry);
		const shards = shardsOfIndex(await readFile(indexEntry.pointer, "utf8"));
		if (typeof shards === "string") throw new HubError("InvalidResponse", label, `${selection.index} ${shards}`);
		const missing = shards.filter((s) => !repoFiles.includes(s));
		if (missing.length > 0)
			throw new HubError("EntryNotFound", label, `${selection.index} names ${missing.join(", ")}, which the repo does not have`);
		transfer.add(await describe(shards));
	}

	const totalBytes = transfer.totalBytes();
	yield { event: "resolved", repoId, revision, commit, files: transfer.entries.length, totalBytes, cachedBytes: transfer.cachedBytes() };
	const run = transfer.all(opts.concurrency ?? DEFAULT_CONCURRENCY).then(
		() => events.close(),
		(err: unknown) => events.fail(err),
	);
	yield* events;
	await run;
	if (revision !== commit) await writeRef(cache.ref(revision), commit);
	const seconds = (Date.now() - started) / 1000;
	yield { event: "progress", doneBytes: totalBytes, totalBytes };
	yield { event: "done", path: cache.snapshot(commit), commit, downloadedBytes: transfer.downloaded, seconds };
	return {
		repoId,
		revision,
		commit,
		path: cache.snapshot(commit),
		files: transfer.entries.map((e) => e.target.path),
		downloadedBytes: transfer.downloaded,
		cachedBytes: transfer.cachedBytes(),
		seconds,
	};
}

/** downloadSnapshotIter() without the events. */
export async function downloadSnapshot(
	repoId: string,
	opts: DownloadOptions & { onEvent?: (e: DownloadEvent) => void } = {},
): Promise<DownloadResult> {
	const gen = downloadSnapshotIter(repoId, opts);
	for (;;) {
		const r = await gen.next();
		if (r.done === true) return r.value;
		opts.onEvent?.(r.value);
	}
}

/** The commit a cached `refs/<revision>` file names, if it names one. */
async function readRef(file: string): Promise<string | undefined> {
	const text = await readFile(file, "utf8").then(
		(t) => t.trim(),
		() => "",
	);
	return isCommitHash(text) ? text : undefined;
}

async function exists(path: string): Promise<boolean> {
	return stat(path).then(
		() => true,
		() => false,
	);
}

/** paths-info for `paths` at `commit`, turned into cache entries (what each blob is named and whether it is on disk). */
async function describeFiles(
	paths: string[],
	c: { repoId: string; commit: string; cache: RepoCache; settings: HubSettings; ctx: HubRequestContext; signal: AbortSignal | undefined },
): Promise<SnapshotEntry[]> {
	const infos: PathInfo[] = [];
	for (let i = 0; i < paths.length; i += PATHS_INFO_BATCH) {
		const batch = paths.slice(i, i + PATHS_INFO_BATCH);
		const got = await pathsInfo({
			repo: c.repoId,
			paths: batch,
			revision: c.commit,
			expand: true,
			hubUrl: c.settings.endpoint,
			...(c.settings.token !== undefined ? { accessToken: c.settings.token.token } : {}),
			fetch: createHubFetch(c.ctx, "file metadata (paths-info)", { ...(c.signal !== undefined ? { signal: c.signal } : {}) }),
		}).catch((err: unknown) => {
			throw asHubError(err, c.ctx, "file metadata (paths-info)");
		});
		infos.push(...got);
	}
	const entries: SnapshotEntry[] = [];
	for (const path of paths) {
		const info = infos.find((p) => p.path === path && p.type === "file");
		if (info === undefined)
			throw new HubError("EntryNotFound", c.ctx.repo, `${path}: the Hub has no metadata for this file at commit ${c.commit}`);
		const lfs = info.lfs;
		const etag = lfs !== undefined ? lfs.oid : info.oid;
		const size = lfs !== undefined ? lfs.size : info.size;
		const hash = lfs !== undefined ? "sha256" : "git-sha1";
		if (
			etag === undefined ||
			!(hash === "sha256" ? /^[0-9a-f]{64}$/ : /^[0-9a-f]{40}$/).test(etag) ||
			!Number.isSafeInteger(size) ||
			size < 0
		) {
			throw new HubError(
				"InvalidResponse",
				c.ctx.repo,
				`${path}: the Hub gave no usable ${hash} and size (oid ${JSON.stringify(etag)}, size ${JSON.stringify(size)})`,
			);
		}
		const pointer = c.cache.pointer(c.commit, path);
		const target: BlobTarget = {
			path,
			url: `${c.settings.endpoint}/${c.repoId}/resolve/${c.commit}/${path.split("/").map(encodeURIComponent).join("/")}`,
			size,
			etag,
			hash,
			incomplete: c.cache.incomplete(etag),
			blob: c.cache.blob(etag),
		};
		entries.push({ target, pointer, cached: (await exists(pointer)) || (await exists(target.blob)) });
	}
	return entries;
}
