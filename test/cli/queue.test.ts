/**
 * The sweep through a real Redis (Debian's redis-server on a free loopback port) and two `merge worker`
 * processes, one of them killed with SIGKILL in the middle of a trial: every trial still completes, and
 * its result is in the store exactly once.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { EvalReport } from "../../src/eval/types.js";
import { taskScores } from "../../src/report/scores.js";
import { ResultsStore, type StoredTrial } from "../../src/sweep/store.js";
import { runCli, spawnCli } from "../helpers/cli.js";
import { useTempDir } from "../helpers/fs.js";
import { startRedis, stopProcess, type Tracked, track } from "../helpers/services.js";
import { writeSweepFixture } from "../sweep/fixtures.js";

const dir = useTempDir("lm-merge-cli-queue-");
let redis: { url: string; stop(): Promise<void> };
const workers: Tracked[] = [];

beforeAll(async () => {
	redis = await startRedis();
});

afterAll(async () => {
	await Promise.all(workers.map((w) => stopProcess(w.proc)));
	await redis?.stop();
});

function worker(name: string): Tracked {
	const w = track(
		spawnCli(
			[
				"worker",
				"--queue",
				redis.url,
				"--name",
				name,
				"--lock-duration",
				"2",
				"--work-dir",
				path.join(dir(), "work"),
				"--keep-dir",
				path.join(dir(), `kept-${name}`),
			],
			{ cwd: dir() },
		),
	);
	workers.push(w);
	return w;
}

describe("merge sweep --queue with two workers", () => {
	test("one worker SIGKILLed mid-trial: every trial completes once, on the other worker", async () => {
		const { sweep } = await writeSweepFixture(dir());
		const w1 = worker("w1");
		const w2 = worker("w2");
		await Promise.all([w1.waitFor(/worker w1@.* on redis/), w2.waitFor(/worker w2@.* on redis/)]);
		const run = track(spawnCli(["sweep", sweep, "--queue", redis.url, "--keep"], { cwd: dir() }));

		// Whichever worker is first seen computing a trial is killed there and then.
		const [victim, survivor, name] = await Promise.race([
			w1.waitFor(/trial (\w+): (merging|scoring) /).then(() => [w1, w2, "w2"] as const),
			w2.waitFor(/trial (\w+): (merging|scoring) /).then(() => [w2, w1, "w1"] as const),
		]);
		const lost = (victim.stderr().match(/trial (\w+): (merging|scoring) /) as RegExpMatchArray)[1] as string;
		victim.proc.kill("SIGKILL");
		expect((await victim.exited).signal).toBe("SIGKILL");

		const end = await run.exited;
		expect(end.code, run.stderr()).toBe(0);
		expect(
			run
				.stdout()
				.trim()
				.split("\n")
				.slice(2)
				.map((l) => l.split("|").at(-2)?.trim()),
		).toEqual(["done", "done", "done"]);
		expect(survivor.stderr()).toMatch(new RegExp(`trial ${lost} \\(.*\\): started \\(attempt 2\\)`));

		const store = ResultsStore.open(path.join(dir(), "sweep.sqlite"), { readonly: true });
		let rows: StoredTrial[];
		try {
			rows = store.list();
		} finally {
			store.close();
		}
		expect(rows.map((r) => r.status)).toEqual(["done", "done", "done"]);
		expect(new Set(rows.map((r) => r.key)).size).toBe(3);
		for (const r of rows) expect(r.worker).toMatch(new RegExp(`^${name}@`));
		const lostRow = rows.find((r) => r.key.startsWith(lost)) as StoredTrial;
		expect(lostRow.attempts).toBe(2);
		for (const r of rows.filter((x) => x !== lostRow)) expect(r.attempts).toBe(1);

		// Each row matches the per-trial report the surviving worker kept beside its merged model.
		for (const r of rows) {
			expect(r.model).toBe(path.join(dir(), `kept-${name}`, r.key.slice(0, 12), "model"));
			const report = JSON.parse(await readFile(path.join(path.dirname(r.model as string), "eval.json"), "utf8")) as EvalReport;
			expect(r.scores).toEqual(JSON.parse(JSON.stringify(taskScores(report))));
		}

		// The queue holds nothing more: results were collected and their jobs removed.
		const status = await runCli(["sweep", "status", sweep, "--queue", redis.url, "--json"], { cwd: dir() });
		expect(status.exitCode, status.stderr).toBe(0);
		const s = JSON.parse(status.stdout);
		expect(s.counts).toEqual({ queued: 0, running: 0, done: 3, failed: 0 });
		expect(s.queue.counts).toMatchObject({ waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 });

		// A rerun finds everything done and enqueues nothing.
		const again = await runCli(["sweep", sweep, "--queue", redis.url], { cwd: dir() });
		expect(again.exitCode).toBe(0);
		expect(again.stderr).toContain("3 trial(s), 3 already done");

		// Ctrl-C stops the surviving worker cleanly.
		survivor.proc.kill("SIGINT");
		expect((await survivor.exited).code).toBe(0);
		expect(survivor.stderr()).toContain("worker stopped");
	}, 300_000);

	test("--detach returns at once; status --queue collects the results; " +
		"a trial that cannot succeed fails once, not three times", async () => {
		const root = path.join(dir(), "detached");
		const { sweep } = await writeSweepFixture(root);
		// A second sweep whose data no worker can read: an evaluation data error, which retrying cannot fix.
		const broken = path.join(root, "broken.yml");
		await writeFile(
			broken,
			(await readFile(sweep, "utf8")).replace(/data: .*/, "data: /nonexistent/medqa.jsonl").replace("[0, 0.5, 1]", "[0.25]"),
		);
		const w = worker("w3");
		await w.waitFor(/worker w3@.* on redis/);
		const detached = await runCli(["sweep", sweep, "--queue", redis.url, "--detach"], { cwd: root });
		expect(detached.exitCode, detached.stderr).toBe(0);
		expect(detached.stdout).toBe("");
		expect(detached.stderr).toContain("3 trial(s) left to the workers");
		for (let i = 0; i < 3; i++) await w.waitFor(new RegExp(`(trial \\w+: done[\\s\\S]*){${i + 1}}`));
		const status = await runCli(["sweep", "status", sweep, "--queue", redis.url], { cwd: root });
		expect(status.exitCode, status.stderr).toBe(0);
		expect(status.stdout).toContain("3 trial(s): 3 done, 0 running, 0 queued, 0 failed");
		expect(status.stdout).toContain("collected 3 finished trial(s) into the store");

		const failed = await runCli(["sweep", broken, "--queue", redis.url], { cwd: root });
		expect(failed.exitCode).toBe(1);
		expect(failed.stdout).toContain("| failed |");
		expect(failed.stderr).toMatch(/t=0\.25: failed on w3@.*nonexistent/);
		const store = ResultsStore.open(path.join(root, "broken.sqlite"), { readonly: true });
		try {
			expect(store.list()).toMatchObject([{ status: "failed", attempts: 1, error: expect.stringContaining("/nonexistent/medqa.jsonl") }]);
		} finally {
			store.close();
		}
		expect(w.stderr()).not.toContain("will retry");
	}, 300_000);
});
