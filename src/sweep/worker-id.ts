import os from "node:os";

/** How a process names itself in the store's `worker` column: host:pid (a queue worker may add a name). */
export function workerId(name?: string): string {
	return `${name !== undefined && name !== "" ? `${name}@` : ""}${os.hostname()}:${process.pid}`;
}

/**
 * Whether `id` names a process on this host that no longer exists: its trials were interrupted
 * (kill -9, power loss) and may be claimed again. Processes on other hosts are never judged dead here.
 */
export function isDeadLocalWorker(id: string | null): boolean {
	if (id === null) return true;
	const m = /(?:^|@)([^@:]+):(\d+)$/.exec(id);
	if (m === null || m[1] !== os.hostname()) return false;
	const pid = Number(m[2]);
	if (pid === process.pid) return false;
	try {
		process.kill(pid, 0);
		return false;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "ESRCH";
	}
}
