/**
 * CPU time of one thread, from Linux's /proc: the fuzzer's slow and hang limits are about work done, not about wall
 * time, which on a shared machine (and under `nice -n 19`) includes seconds of waiting for a core. Node 20 has no
 * per-thread CPU clock (process.threadCpuUsage came later) and process.cpuUsage() sums every thread. Elsewhere than
 * Linux these return undefined and callers fall back to wall time.
 */
import { readFileSync } from "node:fs";

/** Linux's USER_HZ: /proc reports times in ticks of 1/100 s on every mainstream architecture. */
const TICKS_PER_SECOND = 100;

/** The fields of a /proc stat line after the command name, which may itself hold spaces and parentheses. */
function statFields(path: string): string[] | undefined {
	try {
		const line = readFileSync(path, "latin1");
		return line.slice(line.lastIndexOf(")") + 2).split(" ");
	} catch {
		return undefined;
	}
}

/** utime + stime of the stat at `path`, in ms (fields 14 and 15; after the name, they are the 12th and 13th). */
function cpuMsOf(path: string): number | undefined {
	const f = statFields(path);
	if (f === undefined || f.length < 13) return undefined;
	return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_SECOND;
}

/** CPU time the calling thread has used, in ms (10 ms resolution). */
export function threadCpuMs(): number | undefined {
	return cpuMsOf("/proc/thread-self/stat");
}

/** The calling thread's kernel thread id, for taskCpuMs from another thread. */
export function threadId(): number | undefined {
	try {
		const line = readFileSync("/proc/thread-self/stat", "latin1");
		const id = Number(line.slice(0, line.indexOf(" ")));
		return Number.isSafeInteger(id) ? id : undefined;
	} catch {
		return undefined;
	}
}

/** CPU time used by thread `tid` of this process, in ms. */
export function taskCpuMs(tid: number): number | undefined {
	return cpuMsOf(`/proc/self/task/${tid}/stat`);
}
