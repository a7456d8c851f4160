import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { HubError } from "../errors.js";

/** A held lock; `release()` is idempotent. */
interface BlobLock {
	/** False when no lock could be taken because flock(1) is missing (the download then relies on its hash check alone). */
	readonly held: boolean;
	release(): Promise<void>;
}

/** What the helper prints once it holds the lock. */
const LOCKED = "locked\n";

/**
 * Takes the exclusive lock on `lockPath` that huggingface_hub takes (Python's `filelock` calls flock(2) on
 * `<cache>/.locks/<repo folder>/<etag>.lock`), so lm-merge and a concurrent Python download of the same blob
 * wait for each other instead of writing one `.incomplete` file together. Node has no flock(2), and the npm
 * packages that add one either use fcntl/OFD locks (which do not exclude flock holders on Linux) or need a
 * native build at install; so the lock is held by util-linux's flock(1) running `cat` on a pipe from this
 * process. Releasing closes the pipe; if this process dies, the pipe closes too and the kernel drops the lock.
 * Without flock(1) (not Linux), returns an unheld lock: the sha256 check still keeps a mixed file out of the cache.
 * `onWait` is called when another process holds the lock, before waiting for it.
 */
export async function acquireBlobLock(
	lockPath: string,
	opts: { repo: string; signal?: AbortSignal; onWait?: () => void },
): Promise<BlobLock> {
	await mkdir(dirname(lockPath), { recursive: true });
	// First without waiting, so "another process holds it" is known for sure rather than guessed from a delay.
	const first = await holdLock(lockPath, false, opts);
	if (first !== "busy") return first;
	opts.onWait?.();
	const second = await holdLock(lockPath, true, opts);
	if (second === "busy") throw new HubError("Io", opts.repo, `cannot lock ${lockPath}`);
	return second;
}

/** flock(1)'s exit code when `--nonblock` finds the lock taken (chosen to differ from its other failures). */
const BUSY_EXIT = 75;

/** One flock(1) helper: resolves once it holds the lock, or "busy" when `wait` is false and another holder has it. */
function holdLock(lockPath: string, wait: boolean, opts: { repo: string; signal?: AbortSignal }): Promise<BlobLock | "busy"> {
	const args = [
		"--exclusive",
		...(wait ? [] : ["--nonblock", "--conflict-exit-code", String(BUSY_EXIT)]),
		lockPath,
		"-c",
		`printf '${LOCKED.trim()}\\n'; exec cat`,
	];
	const child = spawn("flock", args, { stdio: ["pipe", "pipe", "pipe"] });
	let released = false;
	const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
	const release = async () => {
		if (released) return;
		released = true;
		child.stdin.end();
		await exited;
	};
	return new Promise<BlobLock | "busy">((resolve, reject) => {
		let out = "";
		let err = "";
		const onAbort = () => {
			child.kill("SIGTERM");
			finish(() => reject(new HubError("Interrupted", opts.repo, `interrupted while waiting for the lock ${lockPath}`)));
		};
		const finish = (f: () => void) => {
			opts.signal?.removeEventListener("abort", onAbort);
			f();
		};
		if (opts.signal?.aborted === true) return onAbort();
		opts.signal?.addEventListener("abort", onAbort, { once: true });
		child.stdout.setEncoding("utf8").on("data", (d: string) => {
			out += d;
			if (out === LOCKED) finish(() => resolve({ held: true, release }));
		});
		child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
		child.stdin.on("error", () => {});
		child.once("error", (e: NodeJS.ErrnoException) => {
			released = true;
			if (e.code === "ENOENT") finish(() => resolve({ held: false, release: async () => {} }));
			else finish(() => reject(new HubError("Io", opts.repo, `cannot lock ${lockPath}: ${e.message}`)));
		});
		child.once("close", (code) => {
			if (out === LOCKED) return;
			if (code === BUSY_EXIT && !wait) return finish(() => resolve("busy"));
			finish(() =>
				reject(
					new HubError("Io", opts.repo, `cannot lock ${lockPath}: flock exited with ${code}${err.trim() !== "" ? `: ${err.trim()}` : ""}`),
				),
			);
		});
	});
}
