/**
 * Peak resident memory of a child process. With GNU time (`/usr/bin/time -v`, Debian package `time`) the
 * kernel's figure for the child is read from its report; without it, the child reports
 * process.resourceUsage().maxRSS itself on stderr (see reportSelfRss), which the bench children do at exit.
 */
import { spawn } from "node:child_process";
import { access, constants, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where GNU time lives on Debian/Ubuntu; the shell builtin `time` cannot report memory. */
export const GNU_TIME = "/usr/bin/time";

/** Prefix of the line a child prints on stderr with its own peak RSS. */
export const SELF_RSS_PREFIX = "bench-child-rss-kib:";

/** A finished child process with its measurements. */
export interface MeasuredRun {
	exitCode: number;
	/** Wall-clock time from spawn to exit, in seconds. */
	wallSeconds: number;
	/** Peak resident set size in bytes, when it could be measured. */
	peakRssBytes: number | undefined;
	/** Where peakRssBytes came from. */
	rssSource: "gnu-time" | "self" | "none";
	/** User + system CPU seconds of the child (all its threads), when GNU time measured it. */
	cpuSeconds: number | undefined;
	stdout: string;
	stderr: string;
}

/** True when GNU time is installed and executable. */
export async function hasGnuTime(): Promise<boolean> {
	try {
		await access(GNU_TIME, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

/** "Maximum resident set size (kbytes): 123" from a `time -v` report, in bytes. */
export function parseGnuTimeRss(report: string): number | undefined {
	const m = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(report);
	return m === null ? undefined : Number(m[1]) * 1024;
}

/** "User time (seconds): 1.5" + "System time (seconds): 0.5" from a `time -v` report. */
export function parseGnuTimeCpu(report: string): number | undefined {
	const user = /User time \(seconds\):\s*([\d.]+)/.exec(report);
	const system = /System time \(seconds\):\s*([\d.]+)/.exec(report);
	return user === null || system === null ? undefined : Number(user[1]) + Number(system[1]);
}

/** The last self-reported peak RSS line in `stderr`, in bytes. */
export function parseSelfRss(stderr: string): number | undefined {
	let found: number | undefined;
	for (const line of stderr.split("\n")) {
		if (line.startsWith(SELF_RSS_PREFIX)) found = Number(line.slice(SELF_RSS_PREFIX.length).trim()) * 1024;
	}
	return found !== undefined && Number.isFinite(found) ? found : undefined;
}

/** Prints this process's peak RSS (kernel's maxrss, KiB on Linux) in the form parseSelfRss reads. */
export function reportSelfRss(): void {
	process.stderr.write(`${SELF_RSS_PREFIX} ${process.resourceUsage().maxRSS}\n`);
}

/**
 * Runs `command args` to completion, capturing stdout and stderr, and measures wall time and peak RSS
 * (GNU time when present, else the child's own report). Never rejects on a non-zero exit.
 */
export async function runMeasured(command: string, args: readonly string[], opts: { cwd?: string } = {}): Promise<MeasuredRun> {
	const useTime = await hasGnuTime();
	const scratch = useTime ? await mkdtemp(join(tmpdir(), "lm-merge-rss-")) : undefined;
	const report = scratch !== undefined ? join(scratch, "time.txt") : undefined;
	const [cmd, argv] = report !== undefined ? [GNU_TIME, ["-v", "-o", report, command, ...args]] : [command, [...args]];
	try {
		const started = performance.now();
		const { exitCode, stdout, stderr } = await new Promise<{ exitCode: number; stdout: string; stderr: string }>((resolve, reject) => {
			const child = spawn(cmd, argv, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
			const out: Buffer[] = [];
			const err: Buffer[] = [];
			child.stdout.on("data", (b: Buffer) => out.push(b));
			child.stderr.on("data", (b: Buffer) => err.push(b));
			child.on("error", reject);
			child.on("close", (code, signal) => {
				resolve({
					exitCode: code ?? (signal !== null ? 128 : 1),
					stdout: Buffer.concat(out).toString("utf8"),
					stderr: Buffer.concat(err).toString("utf8"),
				});
			});
		});
		const wallSeconds = (performance.now() - started) / 1000;
		const text = report !== undefined ? await readFile(report, "utf8").catch(() => "") : "";
		const timed = parseGnuTimeRss(text);
		const cpuSeconds = parseGnuTimeCpu(text);
		const self = parseSelfRss(stderr);
		const peakRssBytes = timed ?? self;
		const rssSource = timed !== undefined ? "gnu-time" : self !== undefined ? "self" : "none";
		return { exitCode, wallSeconds, peakRssBytes, rssSource, cpuSeconds, stdout, stderr };
	} finally {
		if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
	}
}
