import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { HubError } from "../errors.js";

/** A held lock; `release()` is idempotent. */
export interface BlobLock {
	/** False when no lock could be taken because flock(1) is missing (the download then relies on its hash check alone). */
	readonly held: boolean;
	release(): Promise<void>;
}

/** After this long without the lock, `onWait` is called once (another process is downloading the same blob). */
export const LOCK_WAIT_NOTICE_MS = 300;

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
 */
export async function acquireBlobLock(lockPath: string, opts: { repo: string; signal?: AbortSignal; onWait?: () => void }): Promise<BlobLock> {
	await mkdir(dirname(lockPath), { recursive: true });
	const child = spawn("flock", ["--exclusive", lockPath, "-c", `printf '${LOCKED.trim()}\\n'; exec cat`], { stdio: ["pipe", "pipe", "pipe"] });
	let released = false;
	const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
	const release = async () => {
		if (released) return;
		released = true;
		child.stdin.end();
		await exited;
	};
	return new Promise<BlobLock>((resolve, reject) => {
		let out = "";
		let err = "";
		const notice = setTimeout(() => opts.onWait?.(), LOCK_WAIT_NOTICE_MS);
		const onAbort = () => {
			child.kill("SIGTERM");
			finish(() => reject(new HubError("Interrupted", opts.repo, `interrupted while waiting for the lock ${lockPath}`)));
		};
		const finish = (f: () => void) => {
			clearTimeout(notice);
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
		child.once("error", (e: NodeJS.ErrnoException) => {
			released = true;
			if (e.code === "ENOENT") finish(() => resolve({ held: false, release: async () => {} }));
			else finish(() => reject(new HubError("Io", opts.repo, `cannot lock ${lockPath}: ${e.message}`)));
		});
		child.once("close", (code) => {
			if (out !== LOCKED) finish(() => reject(new HubError("Io", opts.repo, `cannot lock ${lockPath}: flock exited with ${code}${err.trim() !== "" ? `: ${err.trim()}` : ""}`)));
		});
	});
}
