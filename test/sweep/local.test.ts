import { readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { ExecError } from "../../src/errors.js";
import { evaluate } from "../../src/eval/evaluate.js";
import type { EvalReport } from "../../src/eval/types.js";
import { taskScores } from "../../src/report/scores.js";
import type { SweepEvent } from "../../src/sweep/events.js";
import { runSweepLocal, type SweepRunOptions } from "../../src/sweep/local.js";
import { loadSweep } from "../../src/sweep/spec.js";
import { ResultsStore, type StoredTrial } from "../../src/sweep/store.js";
import { useTempDir } from "../helpers/fs.js";
import { GRID_SWEEP, SAMPLE_DATA, SAMPLE_SHOTS, writeSweepFixture } from "./fixtures.js";

const dir = useTempDir("lm-merge-sweep-local-");
let fixture: { a: string; b: string; sweep: string };

beforeAll(async () => {
	fixture = await writeSweepFixture(dir());
});

async function run(
	opts: SweepRunOptions,
	abortWhen?: (e: SweepEvent) => boolean,
	file = fixture.sweep,
): Promise<{ events: SweepEvent[]; error?: unknown }> {
	const spec = await loadSweep(file);
	const controller = new AbortController();
	const events: SweepEvent[] = [];
	try {
		for await (const e of runSweepLocal(spec, { ...opts, signal: controller.signal })) {
			events.push(e);
			if (abortWhen?.(e) === true) controller.abort();
		}
	} catch (error) {
		return { events, error };
	}
	return { events };
}

function rows(store: string): StoredTrial[] {
	const s = ResultsStore.open(store, { readonly: true });
	try {
		return s.list();
	} finally {
		s.close();
	}
}

const t = (r: StoredTrial) => r.params["parameters.t"];

describe("a local 3-point grid on tiny models", () => {
	const store = () => path.join(dir(), "grid.sqlite");
	const keepDir = () => path.join(dir(), "kept");
	let first: SweepEvent[];

	beforeAll(async () => {
		({ events: first } = await run({ store: store(), keepDir: keepDir() }));
	});

	test("runs every trial once and records it done", () => {
		expect(first.filter((e) => e.event === "trialStart")).toHaveLength(3);
		expect(first.filter((e) => e.event === "trialDone" && !e.reused)).toHaveLength(3);
		const all = rows(store());
		expect(all.map(t)).toEqual([0, 0.5, 1]);
		for (const r of all) {
			expect(r).toMatchObject({ status: "done", attempts: 1, sweep: "sweep", objectiveName: "mean_acc_letters", error: null });
			expect(r.seconds).toBeGreaterThan(0);
			expect((r.mergeSeconds ?? 0) + (r.evalSeconds ?? 0)).toBeLessThanOrEqual(r.seconds ?? 0);
		}
		expect(first.at(-1)).toMatchObject({ event: "done", done: 3, failed: 0 });
	});

	test("the store's rows match the per-trial reports kept beside each merged model", async () => {
		for (const r of rows(store())) {
			expect(r.model).toBe(path.join(keepDir(), r.key.slice(0, 12), "model"));
			const report = JSON.parse(await readFile(path.join(keepDir(), r.key.slice(0, 12), "eval.json"), "utf8")) as EvalReport;
			expect(report.items.length).toBe(16);
			expect(r.scores).toEqual(JSON.parse(JSON.stringify(taskScores(report))));
			expect(r.objective).toBeCloseTo(report.tasks.medqa?.acc_letters.mean ?? Number.NaN, 10);
			expect(r.report?.tasks).toEqual(report.tasks);
		}
	});

	test("t = 0 and t = 1 score exactly as evaluating the two input models directly", async () => {
		const all = rows(store());
		for (const [row, model] of [
			[all[0], fixture.a],
			[all[2], fixture.b],
		] as const) {
			const direct = await evaluate({ models: [model], data: SAMPLE_DATA, shotsFrom: SAMPLE_SHOTS, shots: 1, seeds: 2 });
			expect(row?.scores?.medqa).toEqual(JSON.parse(JSON.stringify(taskScores(direct).medqa)));
		}
	});

	test("a second run redoes nothing", async () => {
		const before = rows(store());
		const { events } = await run({ store: store(), keepDir: keepDir() });
		expect(events.filter((e) => e.event === "trialStart")).toHaveLength(0);
		expect(events.filter((e) => e.event === "trialDone" && e.reused)).toHaveLength(3);
		expect(rows(store())).toEqual(before);
	});
});

describe("an interrupted local sweep", () => {
	test("gives the running trial back and resumes without redoing the finished one", async () => {
		const store = path.join(dir(), "resume.sqlite");
		let done = 0;
		const { events, error } = await run({ store }, (e) =>
			e.event === "trialDone" && ++done === 1 ? false : e.event === "phase" && e.phase === "eval" && done === 1,
		);
		expect(error).toBeInstanceOf(ExecError);
		expect((error as ExecError).kind).toBe("Interrupted");
		expect(events.filter((e) => e.event === "trialDone")).toHaveLength(1);
		const mid = rows(store);
		expect(mid.map((r) => r.status)).toEqual(["done", "queued", "queued"]);
		const finished = mid[0] as StoredTrial;

		const { events: again } = await run({ store });
		expect(
			again
				.filter((e) => e.event === "trialDone" && e.reused)
				.map((e) => (e as { params: Record<string, unknown> }).params["parameters.t"]),
		).toEqual([0]);
		expect(again.filter((e) => e.event === "trialStart")).toHaveLength(2);
		const end = rows(store);
		expect(end.map((r) => r.status)).toEqual(["done", "done", "done"]);
		expect(end[0]).toEqual(finished);
		expect(end.map((r) => r.attempts)).toEqual([1, 2, 1]);
	});
});

describe("a CMA-ES search on tiny models", () => {
	test("runs whole generations within the budget, and a rerun draws the same candidates and finds them all done", async () => {
		const file = path.join(dir(), "search.yml");
		const { writeFile } = await import("node:fs/promises");
		await writeFile(
			file,
			GRID_SWEEP.replace(
				/grid:\n {2}parameters\.t: \[0, 0\.5, 1\]/,
				"search:\n  method: cmaes\n  budget: 9\n  seed: 3\n  space:\n    parameters.t: {min: 0, max: 1, step: 0.05}",
			),
		);
		const store = path.join(dir(), "search.sqlite");
		const { events, error } = await run({ store }, undefined, file);
		expect(error).toBeUndefined();
		const batches = events.filter((e) => e.event === "batch");
		expect(batches).toHaveLength(2); // λ = 4 for one dimension: two generations fit a budget of 9
		const settled = events.filter((e) => e.event === "trialDone" || e.event === "trialFailed");
		// Candidates snapped to the same step are one trial: each batch settles its distinct trials.
		expect(settled.length).toBe(batches.reduce((a, b) => a + (b as { trials: number }).trials, 0));
		const stored = rows(store);
		expect(stored.length).toBe(new Set(stored.map((r) => r.key)).size);
		for (const r of stored) {
			const v = r.params["parameters.t"] as number;
			expect(v).toBeGreaterThanOrEqual(0);
			expect(v).toBeLessThanOrEqual(1);
			expect(Math.abs(v / 0.05 - Math.round(v / 0.05))).toBeLessThan(1e-9);
			expect(r.status).toBe("done");
		}
		const { events: again } = await run({ store }, undefined, file);
		expect(again.filter((e) => e.event === "trialStart")).toHaveLength(0);
		expect(again.filter((e) => e.event === "batch")).toEqual(batches.map((b) => ({ ...b, reused: (b as { trials: number }).trials })));
		expect(rows(store)).toEqual(stored);
	}, 300_000);
});
