import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import type Database from "better-sqlite3";
import { SweepError } from "../errors.js";
import type { EvalReport } from "../eval/types.js";
import type { TaskScore } from "../report/types.js";
import { STORE_SCHEMA, STORE_SCHEMA_VERSION, TRIAL_COLUMNS } from "./store-schema.js";
import type { TrialResult, TrialSpec } from "./trial-types.js";

export type TrialStatus = "queued" | "running" | "done" | "failed";

/** One row of the `trials` table, JSON columns parsed. */
export interface StoredTrial {
	key: string;
	sweep: string | null;
	params: Record<string, unknown>;
	status: TrialStatus;
	objective: number | null;
	objectiveName: string | null;
	scores: Record<string, TaskScore> | null;
	error: string | null;
	createdAt: string;
	startedAt: string | null;
	finishedAt: string | null;
	worker: string | null;
	attempts: number;
	seconds: number | null;
	mergeSeconds: number | null;
	evalSeconds: number | null;
	model: string | null;
	recipe: string | null;
	eval: Record<string, unknown> | null;
	report: EvalReport | null;
}

interface RawRow {
	[column: string]: string | number | null;
}

/**
 * Waits this long for another writer's lock before failing: WAL lets readers run beside the one
 * writer, and each of our writes is a single short statement, so a wait this long means a stuck process.
 */
const BUSY_TIMEOUT_MS = 15_000;

function parseJson<T>(text: string | number | null): T | null {
	return typeof text === "string" ? (JSON.parse(text) as T) : null;
}

function toStored(r: RawRow): StoredTrial {
	const str = (c: string): string | null => (typeof r[c] === "string" ? (r[c] as string) : null);
	const num = (c: string): number | null => (typeof r[c] === "number" ? (r[c] as number) : null);
	return {
		key: r.key as string,
		sweep: str("sweep"),
		params: parseJson<Record<string, unknown>>(r.params ?? null) ?? {},
		status: r.status as TrialStatus,
		objective: num("objective"),
		objectiveName: str("objective_name"),
		scores: parseJson(r.scores ?? null),
		error: str("error"),
		createdAt: r.created_at as string,
		startedAt: str("started_at"),
		finishedAt: str("finished_at"),
		worker: str("worker"),
		attempts: num("attempts") ?? 0,
		seconds: num("seconds"),
		mergeSeconds: num("merge_seconds"),
		evalSeconds: num("eval_seconds"),
		model: str("model"),
		recipe: str("recipe"),
		eval: parseJson(r.eval ?? null),
		report: parseJson(r.report ?? null),
	};
}

const now = (): string => new Date().toISOString();

/** better-sqlite3 (a native addon) is loaded on first use, so commands that never open a store do not pay for it. */
let sqlite: typeof Database | undefined;
function openDatabase(file: string, opts: Database.Options): Database.Database {
	sqlite ??= createRequire(import.meta.url)("better-sqlite3") as typeof Database;
	return new sqlite(file, opts);
}

/**
 * The results store: one SQLite file (WAL mode, so several processes can write it and any SQLite tool
 * can read it while a sweep runs) with a `trials` table keyed by the hash of each trial's resolved
 * recipe and eval settings. Every state change is one guarded UPDATE, so a finished trial is recorded
 * once however many processes report it.
 */
export class ResultsStore {
	private constructor(
		readonly file: string,
		private readonly db: Database.Database,
	) {}

	/** Opens (creating it unless `readonly`) the store at `file`. */
	static open(file: string, opts: { readonly?: boolean } = {}): ResultsStore {
		if (opts.readonly === true && !existsSync(file))
			throw new SweepError("NotFound", "no results store here (run a sweep first, or pass --store)", file);
		let db: Database.Database;
		try {
			if (opts.readonly !== true) mkdirSync(dirname(resolve(file)), { recursive: true }); // `--store runs/x.sqlite` in a fresh folder
			db = openDatabase(file, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true, timeout: BUSY_TIMEOUT_MS });
			if (opts.readonly !== true) {
				db.pragma("journal_mode = WAL");
				db.pragma("synchronous = NORMAL");
			}
		} catch (err) {
			throw new SweepError("Store", `cannot open the results store: ${(err as Error).message}`, file, { cause: err });
		}
		const store = new ResultsStore(file, db);
		try {
			store.migrate(opts.readonly === true);
		} catch (err) {
			db.close();
			if (err instanceof SweepError) throw err;
			throw new SweepError("Store", `not an lm-merge results store: ${(err as Error).message}`, file, { cause: err });
		}
		return store;
	}

	private migrate(readonly: boolean): void {
		const version = this.db.pragma("user_version", { simple: true }) as number;
		const hasTrials = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'trials'").get() !== undefined;
		if (version > STORE_SCHEMA_VERSION) {
			throw new SweepError(
				"Store",
				`store schema version ${version} is newer than this lm-merge understands (${STORE_SCHEMA_VERSION}); upgrade lm-merge`,
				this.file,
			);
		}
		if (hasTrials) {
			const columns = new Set((this.db.prepare("PRAGMA table_info(trials)").all() as Array<{ name: string }>).map((c) => c.name));
			const missing = TRIAL_COLUMNS.filter((c) => !columns.has(c));
			if (missing.length > 0)
				throw new SweepError("Store", `its trials table lacks ${missing.join(", ")}: not an lm-merge results store`, this.file);
			return;
		}
		if (readonly) throw new SweepError("Store", "it has no trials table: not an lm-merge results store", this.file);
		this.db.exec(STORE_SCHEMA);
		this.db.pragma(`user_version = ${STORE_SCHEMA_VERSION}`);
	}

	close(): void {
		this.db.close();
	}

	/** Adds a trial as `queued` (a failed one is queued again); returns its status after the call. */
	enqueue(t: TrialSpec): TrialStatus {
		this.db
			.prepare(
				`INSERT INTO trials (key, sweep, params, status, created_at, recipe, eval, objective_name)
				 VALUES (@key, @sweep, @params, 'queued', @now, @recipe, @eval, @objective)
				 ON CONFLICT(key) DO UPDATE SET status = 'queued', error = NULL WHERE status = 'failed'`,
			)
			.run({
				key: t.key,
				sweep: t.sweep,
				params: JSON.stringify(t.params),
				now: now(),
				recipe: t.recipe.text,
				eval: JSON.stringify(t.eval),
				objective: t.objective,
			});
		return (this.get(t.key) as StoredTrial).status;
	}

	/**
	 * Takes a queued or failed trial for `worker` (status `running`, attempts + 1). A trial left `running`
	 * by a process that `isStale` says is gone is taken too. False when another live process has it or it is done.
	 */
	claim(key: string, worker: string, isStale: (worker: string | null) => boolean): boolean {
		return this.db
			.transaction(() => {
				const row = this.get(key);
				if (row === undefined || row.status === "done") return false;
				if (row.status === "running" && !isStale(row.worker)) return false;
				this.db
					.prepare("UPDATE trials SET status = 'running', worker = ?, started_at = ?, attempts = attempts + 1, error = NULL WHERE key = ?")
					.run(worker, now(), key);
				return true;
			})
			.immediate();
	}

	/** Gives back a trial this process claimed but did not finish (interrupted), so another run takes it. */
	release(key: string, worker: string): void {
		this.db
			.prepare("UPDATE trials SET status = 'queued', worker = NULL WHERE key = ? AND worker = ? AND status = 'running'")
			.run(key, worker);
	}

	/** A queue worker took the trial (attempts + 1); ignored once it is done. */
	markRunning(key: string, worker: string | null, startedAt: string = now()): void {
		this.db
			.prepare(
				"UPDATE trials SET status = 'running', worker = COALESCE(?, worker), started_at = ?, " +
					"attempts = attempts + 1 WHERE key = ? AND status <> 'done'",
			)
			.run(worker, startedAt, key);
	}

	/** Names the process running a trial (without counting a new attempt). */
	setWorker(key: string, worker: string): void {
		this.db.prepare("UPDATE trials SET worker = ? WHERE key = ? AND status = 'running'").run(worker, key);
	}

	/**
	 * Records a finished trial; returns false (and changes nothing) when it was already recorded.
	 * `attempts`, when the queue knows it, raises the row's count (starts it saw go by may have been missed).
	 */
	recordDone(r: TrialResult, objectiveName: string, attempts?: number): boolean {
		const info = this.db
			.prepare(
				`UPDATE trials SET status = 'done', objective = @objective, objective_name = @objectiveName, scores = @scores, error = NULL,
				   started_at = @startedAt, finished_at = @finishedAt, worker = @worker, seconds = @seconds,
				   merge_seconds = @mergeSeconds, eval_seconds = @evalSeconds, model = @model, report = @report,
				   attempts = MAX(attempts, @attempts)
				 WHERE key = @key AND status <> 'done'`,
			)
			.run({
				key: r.key,
				objective: Number.isFinite(r.objective) ? r.objective : null,
				objectiveName,
				scores: JSON.stringify(r.scores),
				startedAt: r.startedAt,
				finishedAt: r.finishedAt,
				worker: r.worker,
				seconds: r.seconds,
				mergeSeconds: r.mergeSeconds,
				evalSeconds: r.evalSeconds,
				model: r.model ?? null,
				report: JSON.stringify(r.report),
				attempts: attempts ?? 0,
			});
		return info.changes === 1;
	}

	/** Records a trial's failure (unless it is done); `error` is one line. */
	recordFailed(key: string, error: string, worker?: string, attempts?: number): boolean {
		const info = this.db
			.prepare(
				"UPDATE trials SET status = 'failed', error = ?, finished_at = ?, " +
					"worker = COALESCE(?, worker), attempts = MAX(attempts, ?) WHERE key = ? AND status <> 'done'",
			)
			.run(error, now(), worker ?? null, attempts ?? 0, key);
		return info.changes === 1;
	}

	/** A `merge eval --store` result: one done row, replacing an earlier evaluation with the same key. */
	recordEvaluation(
		t: { key: string; params: Record<string, unknown>; eval: Record<string, unknown>; model: string },
		r: Omit<TrialResult, "key" | "mergeSeconds">,
		objectiveName: string,
	): void {
		this.db
			.prepare(
				`INSERT OR REPLACE INTO trials (key, sweep, params, status, objective, objective_name, scores, created_at, started_at, finished_at,
				   worker, attempts, seconds, merge_seconds, eval_seconds, model, eval, report)
				 VALUES (@key, NULL, @params, 'done', @objective, @objectiveName, @scores, @finishedAt, @startedAt, @finishedAt,
				   @worker, 1, @seconds, 0, @evalSeconds, @model, @eval, @report)`,
			)
			.run({
				key: t.key,
				params: JSON.stringify(t.params),
				objective: Number.isFinite(r.objective) ? r.objective : null,
				objectiveName,
				scores: JSON.stringify(r.scores),
				startedAt: r.startedAt,
				finishedAt: r.finishedAt,
				worker: r.worker,
				seconds: r.seconds,
				evalSeconds: r.evalSeconds,
				model: t.model,
				eval: JSON.stringify(t.eval),
				report: JSON.stringify(r.report),
			});
	}

	get(key: string): StoredTrial | undefined {
		const row = this.db.prepare("SELECT * FROM trials WHERE key = ?").get(key) as RawRow | undefined;
		return row === undefined ? undefined : toStored(row);
	}

	/** Rows in insertion order; `sweep` narrows to one sweep's trials (null: `merge eval` rows). */
	list(opts: { sweep?: string | null } = {}): StoredTrial[] {
		const rows =
			opts.sweep === undefined
				? this.db.prepare("SELECT * FROM trials ORDER BY rowid").all()
				: opts.sweep === null
					? this.db.prepare("SELECT * FROM trials WHERE sweep IS NULL ORDER BY rowid").all()
					: this.db.prepare("SELECT * FROM trials WHERE sweep = ? ORDER BY rowid").all(opts.sweep);
		return (rows as RawRow[]).map(toStored);
	}

	/** The done trial with the highest objective (first recorded on ties). */
	best(opts: { sweep?: string } = {}): StoredTrial | undefined {
		const where = opts.sweep !== undefined ? "AND sweep = @sweep" : "";
		const row = this.db
			.prepare(`SELECT * FROM trials WHERE status = 'done' AND objective IS NOT NULL ${where} ORDER BY objective DESC, rowid LIMIT 1`)
			.get(opts.sweep !== undefined ? { sweep: opts.sweep } : {}) as RawRow | undefined;
		return row === undefined ? undefined : toStored(row);
	}

	/** The sweep names present, in first-seen order. */
	sweeps(): string[] {
		return (
			this.db.prepare("SELECT sweep FROM trials WHERE sweep IS NOT NULL GROUP BY sweep ORDER BY MIN(rowid)").all() as Array<{
				sweep: string;
			}>
		).map((r) => r.sweep);
	}
}
