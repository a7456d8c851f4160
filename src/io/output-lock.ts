/**
 * One writer per output path: a lock file `<out>.lm-merge.lock` next to the output, created exclusively
 * (O_EXCL) and holding the owner's pid, host, boot id and process start time. A second run on the same output
 * gets a clean ExecError "Locked" naming the owner instead of racing it for the partial folder.
 *
 * A lock left by a process that died (kill -9, power loss) must not block forever. It is stale when, on the
 * same host, the machine rebooted since (boot id differs), no process has that pid (kill(pid, 0) fails with
 * ESRCH), or the pid now belongs to another process (its start time in /proc differs). A stale lock is taken
 * over. A lock from another host (a shared file system) cannot be checked and is never taken over: the error
 * says which file to delete once the user knows that run is gone.
 */
import { randomBytes } from "node:crypto";
import { type FileHandle, open, readFile, stat, unlink } from "node:fs/promises";
import os from "node:os";
import { ExecError } from "../errors.js";
import { writeError } from "./writer.js";

/** Suffix of the lock file next to an output: `merged/x` is locked by `merged/x.lm-merge.lock`. */
export const LOCK_SUFFIX = ".lm-merge.lock";

/**
 * A lock file that cannot be parsed is one being written right now (created, not yet filled) unless it is older
 * than this: filling it takes microseconds, so a minute-old unreadable lock was left by a crash at that moment.
 */
const UNREADABLE_GRACE_MS = 60_000;

/** How often acquire() retries after removing a stale lock (or waiting for another run to) and losing the race to re-create it. */
const MAX_ATTEMPTS = 50;

interface LockInfo {
	pid: number;
	host: string;
	/** /proc/sys/kernel/random/boot_id, when the system has it. */
	boot?: string;
	/** Field 22 of /proc/<pid>/stat (start time since boot, in clock ticks), when the system has it. */
	start?: string;
	since: string;
	/** Makes every lock's text unique, so an owner recognises its own file. */
	nonce: string;
}

async function readOr(file: string): Promise<string | undefined> {
	return readFile(file, "utf8").then(
		(s) => s.trim(),
		() => undefined,
	);
}

/** A process's start time, from /proc (Linux); undefined elsewhere or when there is no such process. */
async function startTimeOf(pid: number): Promise<string | undefined> {
	const stat = await readOr(`/proc/${pid}/stat`);
	// The command name (field 2) is in parentheses and may contain spaces: count fields after the last ")".
	return stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

/** Whether the owner of a lock still runs: "unknown" for a lock taken on another host. */
export async function lockOwnerState(info: {
	pid: number;
	host: string;
	boot?: string;
	start?: string;
}): Promise<"alive" | "dead" | "unknown"> {
	if (info.host !== os.hostname()) return "unknown";
	const boot = await readOr("/proc/sys/kernel/random/boot_id");
	if (info.boot !== undefined && boot !== undefined && info.boot !== boot) return "dead";
	try {
		process.kill(info.pid, 0);
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ESRCH") return "dead";
		// EPERM: the process exists but belongs to another user.
	}
	const start = info.start !== undefined ? await startTimeOf(info.pid) : undefined;
	if (start !== undefined && start !== info.start) return "dead";
	return "alive";
}

/** The lock file of an output, held from the start of a merge until its output is in place or removed. */
export class OutputLock {
	private held = true;

	private constructor(
		readonly file: string,
		private readonly text: string,
	) {}

	/** Takes the lock of `out` (an absolute path), taking over a stale one; ExecError "Locked" when another run holds it. */
	static async acquire(out: string): Promise<OutputLock> {
		const file = `${out}${LOCK_SUFFIX}`;
		const info: LockInfo = {
			pid: process.pid,
			host: os.hostname(),
			...(await optional("boot", readOr("/proc/sys/kernel/random/boot_id"))),
			...(await optional("start", startTimeOf(process.pid))),
			since: new Date().toISOString(),
			nonce: randomBytes(8).toString("hex"),
		};
		const text = `${JSON.stringify(info)}\n`;
		for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
			if (await createExclusive(file, text)) return new OutputLock(file, text);
			const held = await readOr(file);
			if (held === undefined) continue; // released meanwhile
			const owner = parse(held);
			const state = owner !== undefined ? await lockOwnerState(owner) : await unreadableState(file);
			if (state !== "dead") throw lockedError(out, file, owner, state);
			await breakStale(file, held);
		}
		throw new ExecError("Locked", `${out}: could not take the lock ${file}: other runs keep taking it; try again`);
	}

	/** Whether this process still owns the lock file (it is never taken from a live owner, but a user may delete it). */
	async owned(): Promise<boolean> {
		return this.held && (await readOr(this.file)) === this.text.trim();
	}

	/** Removes the lock file if it is still this one. Safe to call more than once. */
	async release(): Promise<void> {
		if (!this.held) return;
		this.held = false;
		if ((await readOr(this.file)) === this.text.trim()) await unlink(this.file).catch(() => undefined);
	}
}

async function optional<K extends string>(key: K, value: Promise<string | undefined>): Promise<Partial<Record<K, string>>> {
	const v = await value;
	return v !== undefined && v !== "" ? ({ [key]: v } as Record<K, string>) : {};
}

/** Creates `file` with `text` only if it does not exist; false when it does. */
async function createExclusive(file: string, text: string): Promise<boolean> {
	let handle: FileHandle;
	try {
		handle = await open(file, "wx");
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
		throw writeError(file, "creating the lock file", err);
	}
	try {
		await handle.writeFile(text);
	} finally {
		await handle.close();
	}
	return true;
}

function parse(text: string): LockInfo | undefined {
	try {
		const v = JSON.parse(text) as Partial<LockInfo>;
		return typeof v.pid === "number" && Number.isSafeInteger(v.pid) && v.pid > 0 && typeof v.host === "string"
			? (v as LockInfo)
			: undefined;
	} catch {
		return undefined;
	}
}

async function unreadableState(file: string): Promise<"alive" | "dead"> {
	const age = await stat(file).then(
		(s) => Date.now() - s.mtimeMs,
		() => 0,
	);
	return age > UNREADABLE_GRACE_MS ? "dead" : "alive";
}

/**
 * A breaker file older than this was left by a run that died while removing a stale lock (three file operations,
 * microseconds): it is removed. Younger ones mean another run is removing it right now.
 */
const BREAKER_STALE_MS = 10_000;

/**
 * Removes a stale lock without ever removing a live one. Removal is serialised by a second exclusive file,
 * `<lock>.breaking`: its holder re-reads the lock and deletes it only if it still holds the stale text. Nobody
 * else deletes a lock file, and a lock is only ever created with O_EXCL, so the file deleted is the stale one.
 */
async function breakStale(file: string, staleText: string): Promise<void> {
	const breaker = `${file}.breaking`;
	if (!(await createExclusive(breaker, `${process.pid}\n`))) {
		const age = await stat(breaker).then(
			(s) => Date.now() - s.mtimeMs,
			() => 0,
		);
		if (age > BREAKER_STALE_MS) await unlink(breaker).catch(() => undefined);
		else await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
		return;
	}
	try {
		if ((await readOr(file)) === staleText) await unlink(file).catch(() => undefined);
	} finally {
		await unlink(breaker).catch(() => undefined);
	}
}

function lockedError(out: string, file: string, owner: LockInfo | undefined, state: "alive" | "unknown"): ExecError {
	const who =
		owner === undefined
			? "a run that is starting"
			: `pid ${owner.pid}${owner.host !== os.hostname() ? ` on host ${owner.host}` : ""}, since ${owner.since}`;
	const advice = state === "unknown" ? `; if that run is gone, delete ${file}` : "; wait for it to finish or stop it";
	return new ExecError("Locked", `${out} is being written by another lm-merge run (${who})${advice}`);
}
