import { stat } from "node:fs/promises";
import { acquireBlobLock } from "./blob-lock.js";
import type { RepoCache } from "./cache-layout.js";
import type { EventQueue } from "./event-queue.js";
import type { DownloadEvent } from "./events.js";
import { type BlobTarget, fetchBlob } from "./fetch-blob.js";
import type { HubRequestContext } from "./hub-fetch.js";
import { linkPointer } from "./snapshot-link.js";

/** Most `progress` events per second: a bar needs no more, and a 5 GB shard would otherwise give one per 64 KB. */
export const PROGRESS_INTERVAL_MS = 100;

/** A file of the snapshot, with where it comes from. */
export interface SnapshotEntry {
	target: BlobTarget;
	pointer: string;
	cached: boolean;
}

interface TransferContext {
	ctx: HubRequestContext;
	cache: RepoCache;
	events: EventQueue<DownloadEvent>;
	signal?: AbortSignal;
	retryDelayMs?: number;
}

async function exists(path: string): Promise<boolean> {
	return stat(path).then(
		() => true,
		() => false,
	);
}

/** The transfers of one snapshot: a bounded pool, byte accounting and throttled progress events. */
export class SnapshotTransfers {
	readonly entries: SnapshotEntry[] = [];
	downloaded = 0;
	private done = 0;
	private lastProgress = 0;
	private readonly finished = new Set<SnapshotEntry>();
	private warnedNoLock = false;
	/** Progress events start with the pool: the index fetched before the totals are known reports none. */
	private reporting = false;

	constructor(
		entries: SnapshotEntry[],
		private readonly c: TransferContext,
	) {
		this.add(entries);
	}

	add(entries: SnapshotEntry[]): void {
		for (const e of entries) {
			if (this.entries.some((x) => x.target.path === e.target.path)) continue;
			this.entries.push(e);
			if (e.cached) this.done += e.target.size;
		}
	}

	totalBytes(): number {
		return this.entries.reduce((s, e) => s + e.target.size, 0);
	}

	cachedBytes(): number {
		return this.entries.filter((e) => e.cached).reduce((s, e) => s + e.target.size, 0);
	}

	/** Runs every unfinished entry, at most `concurrency` at a time; the first failure stops the rest. */
	async all(concurrency: number): Promise<void> {
		this.reporting = true;
		const queue = this.entries.filter((e) => !this.finished.has(e));
		const failed = new AbortController();
		// The first failure is the cause; the others are workers it stopped ("interrupted").
		let cause: { err: unknown } | undefined;
		const worker = async () => {
			for (let e = queue.shift(); e !== undefined && !failed.signal.aborted; e = queue.shift()) {
				try {
					await this.one(e, failed.signal);
				} catch (err) {
					cause ??= { err };
					failed.abort();
					return;
				}
			}
		};
		await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker));
		if (cause !== undefined) throw cause.err;
	}

	/** Brings one file into the snapshot: link an existing blob, or lock, fetch, verify and link. */
	async one(e: SnapshotEntry, stop?: AbortSignal): Promise<void> {
		const { target, pointer } = e;
		const { events, ctx } = this.c;
		const signal = AbortSignal.any([...(this.c.signal !== undefined ? [this.c.signal] : []), ...(stop !== undefined ? [stop] : [])]);
		if (!(await exists(target.blob))) {
			const lockPath = this.c.cache.lock(target.etag);
			const lock = await acquireBlobLock(lockPath, {
				repo: ctx.repo,
				signal,
				onWait: () => events.push({ event: "waiting", path: target.path, lock: lockPath }),
			});
			if (!lock.held && !this.warnedNoLock) {
				this.warnedNoLock = true;
				events.push({
					event: "warning",
					message:
						"flock(1) not found: downloads are not locked against a concurrent Python download of the same file " +
						"(each file is still checked against its sha256 before use)",
				});
			}
			try {
				// Another process may have finished it while this one waited.
				if (!(await exists(target.blob))) {
					const partial = await stat(target.incomplete).then(
						(s) => s.size,
						() => 0,
					);
					events.push({ event: "fileStart", path: target.path, size: target.size, resumedFrom: Math.min(partial, target.size) });
					this.count(Math.min(partial, target.size));
					await fetchBlob(target, {
						ctx,
						signal,
						onBytes: (n) => {
							this.downloaded += Math.max(0, n);
							this.count(n);
						},
						onRetry: (attempt, reason) => events.push({ event: "retry", path: target.path, attempt, reason }),
						...(this.c.retryDelayMs !== undefined ? { retryDelayMs: this.c.retryDelayMs } : {}),
					});
					await linkPointer(pointer, target.blob, ctx.repo);
					this.finished.add(e);
					events.push({ event: "fileDone", path: target.path, size: target.size, from: "hub" });
					return;
				}
			} finally {
				await lock.release();
			}
		}
		await linkPointer(pointer, target.blob, ctx.repo);
		if (!e.cached) this.count(target.size);
		this.finished.add(e);
		events.push({ event: "fileDone", path: target.path, size: target.size, from: "cache" });
	}

	private count(n: number): void {
		this.done += n;
		const now = Date.now();
		if (this.reporting && now - this.lastProgress >= PROGRESS_INTERVAL_MS) {
			this.lastProgress = now;
			this.c.events.push({ event: "progress", doneBytes: this.done, totalBytes: this.totalBytes() });
		}
	}
}
