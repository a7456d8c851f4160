import { readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isDeadLocalWorker } from "./worker-id.js";

/**
 * Removes temporary trial folders (`lm-merge-trial-<host>-<pid>-…`, see trial.ts) left in `dir` by
 * processes of this host that are gone (a worker killed mid-trial cannot clean up after itself).
 * Returns the folders removed.
 */
export async function removeStaleTrialDirs(dir: string): Promise<string[]> {
	let names: string[];
	try {
		names = await readdir(dir);
	} catch {
		return [];
	}
	const prefix = `lm-merge-trial-${os.hostname()}-`;
	const removed: string[] = [];
	for (const name of names) {
		if (!name.startsWith(prefix)) continue;
		const pid = /^(\d+)-/.exec(name.slice(prefix.length))?.[1];
		if (pid === undefined || !isDeadLocalWorker(`${os.hostname()}:${pid}`)) continue;
		await rm(path.join(dir, name), { recursive: true, force: true });
		removed.push(name);
	}
	return removed;
}
