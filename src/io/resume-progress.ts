/**
 * The resume record of a partial output folder: `.lm-merge-progress.json` holds a fingerprint of the merge
 * and, per completed shard, a checksum of every tensor. These functions pick the partial folder to continue,
 * verify its shards against the record, and save the record atomically.
 */
import { type FileHandle, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { ExecError } from "../errors.js";
import { UNFINISHED_MARKER } from "./atomic-output.js";
import { Checksum } from "./checksum.js";
import { writeWholeFile } from "./durable.js";
import type { FileLayout } from "./layout.js";

/** Progress record kept inside the partial folder when resume is enabled (removed before commit). */
export const PROGRESS_FILE = ".lm-merge-progress.json";

/** Largest read used to verify a shard on resume. */
const VERIFY_CHUNK_BYTES = 16 * 2 ** 20;

/** What the progress file holds: shard file name → tensor name → checksum, for the shards completed so far. */
export interface Progress {
	version: 1;
	fingerprint: string;
	shards: Record<string, Record<string, string>>;
}

function isProgress(v: unknown): v is Progress {
	const p = v as Partial<Progress> | null;
	return (
		typeof p === "object" &&
		p !== null &&
		p.version === 1 &&
		typeof p.fingerprint === "string" &&
		typeof p.shards === "object" &&
		p.shards !== null
	);
}

/**
 * Which partial folder of an earlier run to continue: the one recording the same merge. A partial folder that
 * records a different merge (recipe, inputs, seed, layout) is refused (ExecError "ResumeMismatch") rather than
 * silently mixed in. One whose progress record is missing or unreadable cannot be resumed; it is returned
 * without a record, to be reused from scratch rather than left behind as an orphan next to a new one.
 */
export async function findPartial(
	leftovers: readonly string[],
	fingerprint: string,
): Promise<{ dir: string; progress?: Progress } | undefined> {
	const stale: string[] = [];
	let unreadable: string | undefined;
	for (const dir of leftovers) {
		let progress: unknown;
		try {
			progress = JSON.parse(await readFile(join(dir, PROGRESS_FILE), "utf8"));
		} catch {
			progress = undefined;
		}
		if (!isProgress(progress)) unreadable ??= dir;
		else if (progress.fingerprint === fingerprint) return { dir, progress };
		else stale.push(dir);
	}
	if (stale.length > 0) {
		throw new ExecError(
			"ResumeMismatch",
			`${stale[0]} holds a partial merge with a different recipe, inputs, seed or shard size; ` +
				`delete it, or run without --resume to start over`,
		);
	}
	return unreadable !== undefined ? { dir: unreadable } : undefined;
}

/** Removes every entry of an adopted partial folder except `keep`, the progress record and the marker. */
export async function prunePartial(dir: string, keep: ReadonlySet<string>): Promise<void> {
	for (const name of await readdir(dir)) {
		if (keep.has(name) || name === PROGRESS_FILE || name === UNFINISHED_MARKER) continue;
		await rm(join(dir, name), { recursive: true, force: true });
	}
}

/** Whether `file` has exactly the layout's size and header bytes and every tensor's recorded checksum. */
export async function shardMatches(file: string, layout: FileLayout, recorded: Record<string, string>): Promise<boolean> {
	if (Object.keys(recorded).length !== layout.tensors.length) return false;
	let handle: FileHandle;
	try {
		handle = await open(file, "r");
	} catch {
		return false;
	}
	try {
		if ((await handle.stat()).size !== layout.fileSize) return false;
		const header = new Uint8Array(layout.header.byteLength);
		await handle.read(header, 0, header.byteLength, 0);
		if (!Buffer.from(header).equals(Buffer.from(layout.header))) return false;
		const buf = new Uint8Array(Math.min(VERIFY_CHUNK_BYTES, Math.max(1, ...layout.tensors.map((t) => t.byteLength))));
		for (const t of layout.tensors) {
			const sum = new Checksum();
			for (let done = 0; done < t.byteLength; ) {
				const n = Math.min(buf.byteLength, t.byteLength - done);
				const { bytesRead } = await handle.read(buf, 0, n, layout.dataStart + t.byteOffset + done);
				if (bytesRead !== n) return false;
				sum.update(buf.subarray(0, n));
				done += n;
			}
			if (sum.digest() !== recorded[t.name]) return false;
		}
		return true;
	} finally {
		await handle.close();
	}
}

/** Writes the record to a temporary name, then renames it over the old one: a crash leaves the old or the new. */
export async function saveProgress(dir: string, progress: Progress): Promise<void> {
	const tmp = join(dir, `${PROGRESS_FILE}.tmp`);
	await writeWholeFile(tmp, new TextEncoder().encode(JSON.stringify(progress)));
	await rename(tmp, join(dir, PROGRESS_FILE));
}
