import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, test } from "vitest";
import { SweepError } from "../../src/errors.js";
import type { EvalReport } from "../../src/eval/types.js";
import { ResultsStore } from "../../src/sweep/store.js";
import { TRIAL_COLUMNS } from "../../src/sweep/store-schema.js";
import type { TrialResult, TrialSpec } from "../../src/sweep/trial-types.js";
import { fakeEvalReport } from "../helpers/eval-report.js";
import { useTempDir } from "../helpers/fs.js";

const dir = useTempDir("lm-merge-store-");
let n = 0;
const fresh = () => path.join(dir(), `s${n++}.sqlite`);

const trial = (key: string, t = 0.5): TrialSpec => ({
	key,
	sweep: "s",
	params: { "parameters.t": t },
	recipe: { text: `merge_method: slerp\nparameters:\n  t: ${t}\n` },
	eval: { data: "/data/medqa.jsonl", seeds: 1 },
	merge: {},
	objective: "mean_accuracy",
});

const report: EvalReport = fakeEvalReport();

const result = (key: string, objective: number, worker = "w"): TrialResult => ({
	key,
	scores: { medqa: { n: 4, acc: objective, acc_std: 0, acc_per_seed: [objective], acc_letters: 50, ece: 10, reliability: [] } },
	objective,
	seconds: 2,
	mergeSeconds: 1,
	evalSeconds: 1,
	worker,
	startedAt: "2026-01-01T00:00:00.000Z",
	finishedAt: "2026-01-01T00:00:02.000Z",
	report,
});

describe("ResultsStore", () => {
	test("a store in a folder that does not exist yet creates the folder (`--store runs/x.sqlite`)", () => {
		const file = path.join(path.dirname(fresh()), "new", "deeper", "s.sqlite");
		ResultsStore.open(file).close();
		expect(existsSync(file)).toBe(true);
	});

	test("creates the documented trials table, in WAL mode, readable by any SQLite client", () => {
		const file = fresh();
		ResultsStore.open(file).close();
		const db = new Database(file, { readonly: true });
		expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
		const cols = (db.prepare("PRAGMA table_info(trials)").all() as Array<{ name: string; pk: number }>).map((c) => c.name);
		expect(cols).toEqual([...TRIAL_COLUMNS]);
		db.close();
	});

	test("queued → running → done; the result is recorded once however often it is reported", () => {
		const store = ResultsStore.open(fresh());
		expect(store.enqueue(trial("k1"))).toBe("queued");
		expect(store.claim("k1", "w1", () => false)).toBe(true);
		expect(store.claim("k1", "w2", () => false)).toBe(false);
		expect(store.recordDone(result("k1", 40, "w1"), "mean_accuracy")).toBe(true);
		expect(store.recordDone(result("k1", 99, "w2"), "mean_accuracy")).toBe(false);
		expect(store.recordFailed("k1", "late failure")).toBe(false);
		const row = store.get("k1");
		expect(row).toMatchObject({ status: "done", objective: 40, worker: "w1", attempts: 1, params: { "parameters.t": 0.5 }, error: null });
		expect(row?.scores?.medqa?.acc).toBe(40);
		expect(row?.report?.mode).toBe("biomistral");
		expect(store.enqueue(trial("k1"))).toBe("done");
		store.close();
	});

	test("attempts reported by the queue raise the row's count, never lower it", () => {
		const store = ResultsStore.open(fresh());
		store.enqueue(trial("q"));
		store.markRunning("q", null);
		expect(store.recordDone(result("q", 10), "mean_accuracy", 3)).toBe(true);
		expect(store.get("q")?.attempts).toBe(3);
		store.enqueue(trial("f"));
		store.markRunning("f", "w");
		store.markRunning("f", "w");
		store.recordFailed("f", "x", undefined, 1);
		expect(store.get("f")).toMatchObject({ attempts: 2, worker: "w" });
		store.close();
	});

	test("a failed trial is queued again by the next run; a running one of a live process is not taken, of a dead one is", () => {
		const store = ResultsStore.open(fresh());
		store.enqueue(trial("k"));
		store.claim("k", "w1", () => false);
		store.recordFailed("k", "boom", "w1");
		expect(store.get("k")).toMatchObject({ status: "failed", error: "boom" });
		expect(store.enqueue(trial("k"))).toBe("queued");
		expect(store.get("k")?.error).toBeNull();
		store.claim("k", "w1", () => false);
		expect(store.claim("k", "w2", () => false)).toBe(false);
		expect(store.claim("k", "w2", (w) => w === "w1")).toBe(true);
		expect(store.get("k")).toMatchObject({ worker: "w2", attempts: 3 });
		store.release("k", "w1");
		expect(store.get("k")?.status).toBe("running");
		store.release("k", "w2");
		expect(store.get("k")).toMatchObject({ status: "queued", worker: null });
		store.close();
	});

	test("two connections to one file: only one claims a trial", () => {
		const file = fresh();
		const a = ResultsStore.open(file);
		const b = ResultsStore.open(file);
		a.enqueue(trial("k"));
		expect([a.claim("k", "a", () => false), b.claim("k", "b", () => false)]).toEqual([true, false]);
		a.close();
		b.close();
	});

	test("best() ranks done trials by objective; list() and sweeps() read them back in order", () => {
		const store = ResultsStore.open(fresh());
		for (const [k, o] of [
			["a", 30],
			["b", 45],
			["c", 45],
			["d", 10],
		] as const) {
			store.enqueue(trial(k));
			store.recordDone(result(k, o), "mean_accuracy");
		}
		store.enqueue({ ...trial("e"), sweep: "other" });
		expect(store.best()?.key).toBe("b");
		expect(store.best({ sweep: "other" })).toBeUndefined();
		expect(store.list({ sweep: "s" }).map((r) => r.key)).toEqual(["a", "b", "c", "d"]);
		expect(store.sweeps()).toEqual(["s", "other"]);
		store.close();
	});

	test("merge eval rows: done, no sweep, replaced by a re-evaluation", () => {
		const store = ResultsStore.open(fresh());
		const r = result("e1", 20);
		store.recordEvaluation({ key: "e1", params: { model: "/m" }, eval: { data: "/d" }, model: "/m" }, r, "mean_accuracy");
		store.recordEvaluation(
			{ key: "e1", params: { model: "/m" }, eval: { data: "/d" }, model: "/m" },
			{ ...r, objective: 25 },
			"mean_accuracy",
		);
		expect(store.list({ sweep: null })).toHaveLength(1);
		expect(store.get("e1")).toMatchObject({ sweep: null, status: "done", objective: 25, model: "/m" });
		store.close();
	});

	test("a file that is not a store is refused with kind Store; a missing one read-only is NotFound", async () => {
		const junk = path.join(dir(), "junk.sqlite");
		await writeFile(junk, "this is not a database, just some text that is long enough to be read as a header\n".repeat(20));
		expect(() => ResultsStore.open(junk)).toThrow(SweepError);
		expect(() => ResultsStore.open(junk)).toThrow(expect.objectContaining({ kind: "Store" }));
		const other = path.join(dir(), "other.sqlite");
		const db = new Database(other);
		db.exec("CREATE TABLE trials (id INTEGER)");
		db.close();
		expect(() => ResultsStore.open(other)).toThrow(expect.objectContaining({ kind: "Store" }));
		expect(() => ResultsStore.open(path.join(dir(), "none.sqlite"), { readonly: true })).toThrow(
			expect.objectContaining({ kind: "NotFound" }),
		);
	});
});
