import { ExecError, HubError, LmMergeError } from "../errors.js";

/** Exit code of a merge stopped by Ctrl-C: 128 + SIGINT (2), as shells report a process killed by SIGINT. */
export const EXIT_INTERRUPTED = 130;

/** Where the CLI writes; tests substitute their own. */
export interface Io {
	out(line: string): void;
	err(line: string): void;
	isTty: boolean;
}

export const processIo: Io = {
	out: (line) => process.stdout.write(`${line}\n`),
	err: (line) => process.stderr.write(`${line}\n`),
	isTty: process.stderr.isTTY === true,
};

/** One line on stderr starting with `error:`; the stack only with --debug. Returns the exit code. */
export function reportError(io: Io, err: unknown, debug: boolean): number {
	if (err instanceof LmMergeError) {
		io.err(`error: ${oneLine(err.message)}`);
		if (debug && err.stack !== undefined) io.err(err.stack);
		return (err instanceof ExecError || err instanceof HubError) && err.kind === "Interrupted" ? EXIT_INTERRUPTED : err.exitCode;
	}
	const e = err as NodeJS.ErrnoException;
	const msg = e?.code === "ENOSPC" ? `disk full while writing ${e.path ?? "output"}` : (e?.message ?? String(err));
	io.err(`error: ${oneLine(msg)}`);
	if (debug && e?.stack !== undefined) io.err(e.stack);
	return 1;
}

function oneLine(s: string): string {
	return s.replace(/\s*\n\s*/g, " ").trim();
}

export function formatBytes(n: number): string {
	const units = ["B", "KB", "MB", "GB", "TB"];
	let u = 0;
	let v = n;
	while (v >= 1000 && u < units.length - 1) {
		v /= 1000;
		u++;
	}
	return `${u === 0 ? v : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}
