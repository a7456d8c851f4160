import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { ExecError } from "../../src/errors.js";
import { LOCK_SUFFIX, lockOwnerState, OutputLock } from "../../src/io/output-lock.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";

const root = useTempDir("lm-merge-lock-");
let n = 0;
const fresh = () => path.join(root(), `out${n++}`);

/** The pid of a process that has exited (a child that ran and was reaped). */
function deadPid(): number {
	const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
	return Number(r.stdout);
}

async function writeLock(out: string, fields: Record<string, unknown>): Promise<void> {
	await writeFile(out + LOCK_SUFFIX, JSON.stringify({ host: os.hostname(), since: "2026-01-01T00:00:00.000Z", nonce: "x", ...fields }));
}

describe("OutputLock", () => {
	test("a second run on the same output is refused with the owner's pid; release frees it", async () => {
		const out = fresh();
		const lock = await OutputLock.acquire(out);
		const text = JSON.parse(await readFile(out + LOCK_SUFFIX, "utf8")) as { pid: number };
		expect(text.pid).toBe(process.pid);
		const e = await rejected(OutputLock.acquire(out), ExecError);
		expect(e.kind).toBe("Locked");
		expect(e.message).toContain(`pid ${process.pid}`);
		expect(e.message).toContain("being written by another lm-merge run");
		expect(await lock.owned()).toBe(true);
		await lock.release();
		expect(existsSync(out + LOCK_SUFFIX)).toBe(false);
		await (await OutputLock.acquire(out)).release();
	});

	test("a lock whose process no longer runs (kill -9) is stale and taken over", async () => {
		const out = fresh();
		const pid = deadPid();
		await writeLock(out, { pid });
		expect(await lockOwnerState({ pid, host: os.hostname() })).toBe("dead");
		const lock = await OutputLock.acquire(out);
		expect((JSON.parse(await readFile(out + LOCK_SUFFIX, "utf8")) as { pid: number }).pid).toBe(process.pid);
		await lock.release();
		expect((await readdir(root())).filter((f) => f.startsWith(path.basename(out)))).toEqual([]);
	});

	test.runIf(existsSync("/proc/self/stat"))(
		"a pid reused by another process (its start time differs) is stale; the same start time is alive",
		async () => {
			const stat = await readFile(`/proc/${process.pid}/stat`, "utf8");
			const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
			expect(await lockOwnerState({ pid: process.pid, host: os.hostname(), start })).toBe("alive");
			expect(await lockOwnerState({ pid: process.pid, host: os.hostname(), start: "1" })).toBe("dead");
			const out = fresh();
			await writeLock(out, { pid: process.pid, start: "1" });
			await (await OutputLock.acquire(out)).release();
		},
	);

	test.runIf(existsSync("/proc/sys/kernel/random/boot_id"))("a lock from before a reboot is stale", async () => {
		expect(await lockOwnerState({ pid: process.pid, host: os.hostname(), boot: "another-boot" })).toBe("dead");
	});

	test("a lock from another host is never taken over; the error names the file to delete", async () => {
		const out = fresh();
		await writeLock(out, { pid: 1, host: "build-server-7" });
		const e = await rejected(OutputLock.acquire(out), ExecError);
		expect(e.kind).toBe("Locked");
		expect(e.message).toContain("build-server-7");
		expect(e.message).toContain(`delete ${out}${LOCK_SUFFIX}`);
	});

	test("an unreadable lock is one being written, unless it is old", async () => {
		const out = fresh();
		await writeFile(out + LOCK_SUFFIX, "");
		expect((await rejected(OutputLock.acquire(out), ExecError)).kind).toBe("Locked");
		const old = new Date(Date.now() - 3_600_000);
		await utimes(out + LOCK_SUFFIX, old, old);
		await (await OutputLock.acquire(out)).release();
	});

	test("release leaves a lock that is no longer its own", async () => {
		const out = fresh();
		const lock = await OutputLock.acquire(out);
		await writeLock(out, { pid: process.pid, nonce: "someone-else" });
		expect(await lock.owned()).toBe(false);
		await lock.release();
		expect(existsSync(out + LOCK_SUFFIX)).toBe(true);
	});

	test("of several runs racing for a stale lock, exactly one gets it", async () => {
		const out = fresh();
		await writeLock(out, { pid: deadPid() });
		const results = await Promise.allSettled(Array.from({ length: 6 }, () => OutputLock.acquire(out)));
		const won = results.filter((r): r is PromiseFulfilledResult<OutputLock> => r.status === "fulfilled");
		expect(won).toHaveLength(1);
		for (const r of results) if (r.status === "rejected") expect((r.reason as ExecError).kind).toBe("Locked");
		await won[0]!.value.release();
	});
});
