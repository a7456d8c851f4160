import { mkdir, open, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { HubError } from "../errors.js";
import { type HubRequestContext, hubErrorFromResponse, networkError } from "./hub-fetch.js";
import { type BlobHashKind, hashFile } from "./verify-blob.js";

/** One file to bring into the cache's blobs/ folder. */
export interface BlobTarget {
	/** Repo-relative path (messages only). */
	path: string;
	/** `…/resolve/<commit>/<path>`. */
	url: string;
	size: number;
	/** The blob name: the LFS sha256, or the git blob sha1 of a small file. */
	etag: string;
	hash: BlobHashKind;
	incomplete: string;
	blob: string;
}

interface FetchBlobOptions {
	ctx: HubRequestContext;
	signal?: AbortSignal;
	/** Called with each chunk's length as it is written, and with a negative count when written bytes are discarded. */
	onBytes?: (n: number) => void;
	onRetry?: (attempt: number, reason: string) => void;
	/** Only for tests: how long to wait before a retry (default RETRY_DELAY_MS × attempt). */
	retryDelayMs?: number;
}

/** Network failures (reset, timeout, 5xx) tolerated per file before giving up; each retry resumes where the last stopped. */
const MAX_TRANSFER_ATTEMPTS = 5;

/**
 * Downloads whose bytes do not hash to the expected name, per file, before giving up: one bad transfer is luck, three is a broken mirror.
 */
const MAX_INTEGRITY_FAILURES = 3;

/** A transfer that delivers nothing for this long is dropped and resumed (a stalled connection never errors by itself). */
const IDLE_TIMEOUT_MS = 60_000;

/** Base wait before a retry, multiplied by the attempt number. */
const RETRY_DELAY_MS = 500;

async function sizeOf(path: string): Promise<number> {
	try {
		return (await stat(path)).size;
	} catch {
		return 0;
	}
}

/** A transient failure: worth resuming. */
class Transient extends Error {}

/**
 * Brings one blob into the cache: appends to `<blob>.incomplete` from where it stopped (a Range request, so an
 * interrupted download, ours or Python's, resumes), hashes the finished file against its name (sha256 for LFS
 * files, the git sha1 otherwise), and only then renames it to `blobs/<etag>`. A file that does not verify is
 * deleted and fetched again; it is never renamed, so never linked into a snapshot. The caller holds the blob's lock.
 * Returns the byte offset the first request resumed from.
 */
export async function fetchBlob(t: BlobTarget, opts: FetchBlobOptions): Promise<{ resumedFrom: number }> {
	const { ctx } = opts;
	let transferFailures = 0;
	let integrityFailures = 0;
	let resumedFrom: number | undefined;
	await local(t, ctx.repo, () => mkdir(dirname(t.incomplete), { recursive: true }));
	for (;;) {
		let have = await sizeOf(t.incomplete);
		if (have > t.size) {
			await rm(t.incomplete, { force: true });
			have = 0;
		}
		resumedFrom ??= have;
		try {
			if (have < t.size) await transfer(t, have, opts);
		} catch (err) {
			if (!(err instanceof Transient)) throw err;
			transferFailures++;
			if (transferFailures >= MAX_TRANSFER_ATTEMPTS) {
				throw new HubError(
					"Network",
					ctx.repo,
					`${t.path}: download failed ${transferFailures} times (last: ${err.message}); run the command again to resume`,
				);
			}
			opts.onRetry?.(transferFailures, err.message);
			await delay((opts.retryDelayMs ?? RETRY_DELAY_MS) * transferFailures, opts.signal);
			continue;
		}
		// An empty file needs no request, but still a file to verify and rename.
		if (t.size === 0) await local(t, ctx.repo, () => writeFile(t.incomplete, ""));
		const got = await sizeOf(t.incomplete);
		const name = got === t.size ? await hashFile(t.incomplete, t.hash, t.size, opts.signal) : undefined;
		if (name === t.etag) {
			await rename(t.incomplete, t.blob);
			return { resumedFrom };
		}
		await rm(t.incomplete, { force: true });
		opts.onBytes?.(-got);
		integrityFailures++;
		const why = name === undefined ? `${got} bytes instead of ${t.size}` : `${t.hash} ${name} instead of ${t.etag}`;
		if (integrityFailures >= MAX_INTEGRITY_FAILURES) {
			throw new HubError(
				"Integrity",
				ctx.repo,
				`${t.path}: the downloaded bytes do not match the Hub's checksum (${why}), ` +
					`${integrityFailures} times; nothing was linked into the cache`,
			);
		}
		opts.onRetry?.(integrityFailures, `checksum mismatch (${why}); the file was discarded and is fetched again`);
	}
}

function isAborted(signal: AbortSignal | undefined): boolean {
	return signal?.aborted === true;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve) => {
		const timer = setTimeout(resolve, ms);
		signal?.addEventListener(
			"abort",
			() => {
				clearTimeout(timer);
				resolve();
			},
			{ once: true },
		);
	});
}

/** Runs a local file operation; its failure (disk full, permissions) is a HubError naming the file, never retried. */
async function local<T>(t: BlobTarget, repo: string, op: () => Promise<T>): Promise<T> {
	try {
		return await op();
	} catch (err) {
		const e = err as NodeJS.ErrnoException;
		const what = e.code === "ENOSPC" ? "disk full" : e.message;
		throw new HubError("Io", repo, `${t.path}: cannot write ${t.incomplete}: ${what}`, undefined, { cause: err });
	}
}

/** One GET from `have` to the end, appended to the .incomplete file. Transient failures throw Transient. */
async function transfer(t: BlobTarget, have: number, opts: FetchBlobOptions): Promise<void> {
	const { ctx } = opts;
	if (isAborted(opts.signal)) throw new HubError("Interrupted", ctx.repo, `${t.path}: download interrupted`);
	const idle = new AbortController();
	let idleTimer = setTimeout(() => idle.abort(new Error("stalled")), IDLE_TIMEOUT_MS);
	const signals = [idle.signal, ...(opts.signal !== undefined ? [opts.signal] : [])];
	const headers: Record<string, string> = { "Accept-Encoding": "identity" };
	if (ctx.token !== undefined) headers.Authorization = `Bearer ${ctx.token.token}`;
	if (have > 0) headers.Range = `bytes=${have}-`;
	let res: Response;
	try {
		res = await fetch(t.url, { headers, signal: AbortSignal.any(signals) });
	} catch (err) {
		clearTimeout(idleTimer);
		const e = networkError(err, ctx, t.path);
		if (e.kind === "Interrupted" && isAborted(opts.signal)) throw e;
		throw new Transient(e.message);
	}
	try {
		if (res.status === 416) {
			// The range starts at or past the end: the partial file is not a prefix of this blob. Start over.
			await rm(t.incomplete, { force: true });
			opts.onBytes?.(-have);
			throw new Transient("the server refused the resume offset (416)");
		}
		if (!res.ok) {
			const e = await hubErrorFromResponse(res, ctx, t.path);
			if (res.status >= 500 || res.status === 429) throw new Transient(e.message);
			throw e;
		}
		let start = have;
		const range = res.headers.get("content-range");
		if (have > 0 && (res.status !== 206 || range === null || !range.startsWith(`bytes ${have}-`))) {
			// The server sent the whole file (or another range): rewrite from the start rather than append a copy.
			opts.onBytes?.(-have);
			start = 0;
		}
		const file = await local(t, ctx.repo, () => open(t.incomplete, start === 0 ? "w" : "a"));
		try {
			if (res.body === null) throw new Transient("empty response body");
			for await (const chunk of res.body) {
				clearTimeout(idleTimer);
				idleTimer = setTimeout(() => idle.abort(new Error("stalled")), IDLE_TIMEOUT_MS);
				await local(t, ctx.repo, () => file.write(chunk));
				opts.onBytes?.(chunk.length);
			}
		} finally {
			await file.close();
		}
	} catch (err) {
		if (err instanceof Transient || err instanceof HubError) throw err;
		if (isAborted(opts.signal)) throw new HubError("Interrupted", ctx.repo, `${t.path}: download interrupted`);
		const e = err as Error & { cause?: { code?: string } };
		throw new Transient(`${e.cause?.code ?? e.message}`);
	} finally {
		clearTimeout(idleTimer);
	}
}
