/**
 * System services the sweep tests need (Debian's redis-server and chromium, which .ci/run installs).
 * A missing binary fails the test with the install command instead of skipping it: CI must run these.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";

/** The binary's path, or an Error telling how to install it. */
export function requireBinary(name: string, debianPackage: string): string {
	const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
	if (found === "" || !existsSync(found)) {
		throw new Error(`${name} is not installed: apt-get install ${debianPackage} (.ci/run installs it for CI)`);
	}
	return found;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = createServer();
		srv.once("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const port = (srv.address() as { port: number }).port;
			srv.close(() => resolve(port));
		});
	});
}

/** A throwaway redis-server on a free loopback port: no persistence, stopped by stop(). */
export async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
	const bin = requireBinary("redis-server", "redis-server");
	const port = await freePort();
	const proc = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"], {
		stdio: ["ignore", "pipe", "pipe"],
	});
	let log = "";
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`redis-server did not start within 15 s: ${log}`)), 15_000);
		proc.stdout.on("data", (d: Buffer) => {
			log += d.toString();
			if (log.includes("Ready to accept connections")) {
				clearTimeout(timer);
				resolve();
			}
		});
		proc.on("exit", (code) => {
			clearTimeout(timer);
			reject(new Error(`redis-server exited (${code}): ${log}`));
		});
	});
	proc.removeAllListeners("exit");
	return {
		url: `redis://127.0.0.1:${port}`,
		stop: () => stopProcess(proc),
	};
}

/** Sends SIGTERM and waits for the exit (SIGKILL after 10 s). */
export function stopProcess(proc: ChildProcess): Promise<void> {
	if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
	return new Promise((resolve) => {
		const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
		proc.once("exit", () => {
			clearTimeout(timer);
			resolve();
		});
		proc.kill("SIGTERM");
	});
}

/** A spawned CLI whose output is collected as it comes, with a way to wait for a line. */
export interface Tracked {
	proc: ChildProcessWithoutNullStreams;
	stdout(): string;
	stderr(): string;
	/** Resolves when stderr matches `re` (rejects after `ms`). */
	waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
	exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function track(proc: ChildProcessWithoutNullStreams): Tracked {
	let out = "";
	let err = "";
	const waiters: Array<() => void> = [];
	proc.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
	proc.stderr.setEncoding("utf8").on("data", (d: string) => {
		err += d;
		for (const w of [...waiters]) w();
	});
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
		proc.on("close", (code, signal) => resolve({ code, signal })),
	);
	return {
		proc,
		stdout: () => out,
		stderr: () => err,
		exited,
		waitFor: (re, ms = 120_000) =>
			new Promise((resolve, reject) => {
				const check = () => {
					const m = err.match(re);
					if (m !== null) {
						waiters.splice(waiters.indexOf(check), 1);
						clearTimeout(timer);
						resolve(m);
					}
				};
				const timer = setTimeout(() => {
					waiters.splice(waiters.indexOf(check), 1);
					reject(new Error(`no line matching ${re} within ${ms} ms; stderr so far:\n${err.slice(-2000)}`));
				}, ms);
				waiters.push(check);
				check();
			}),
	};
}
