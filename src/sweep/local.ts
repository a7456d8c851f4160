import { setTimeout as sleep } from "node:timers/promises";
import { ExecError } from "../errors.js";
import type { SweepEvent, TrialEvent } from "./events.js";
import { checkLocalData, plannedTrials, trialsOf } from "./plan-trials.js";
import type { SweepSpec } from "./spec.js";
import { ResultsStore, type StoredTrial } from "./store.js";
import { sweepBatches } from "./strategy.js";
import { checkTrialEval, runTrial } from "./trial.js";
import type { TrialSpec } from "./trial-types.js";
import { isDeadLocalWorker, workerId } from "./worker-id.js";

/** Options shared by the local and queue runners. */
export interface SweepRunOptions {
	/** The results store file. */
	store: string;
	/** Keep each trial's merged model and eval.json under this folder. */
	keepDir?: string;
	/** Parent folder of temporary merges (default the OS temp folder). */
	workDir?: string;
	/** Stop after the current trial's current tensor or prompt batch; the trial goes back to `queued`. */
	signal?: AbortSignal;
}

/** What a finished (or detached) sweep run leaves. */
export interface SweepSummary {
	sweep: string;
	store: string;
	done: number;
	failed: number;
	/** Trials found done in the store and not run again. */
	reused: number;
	seconds: number;
	/** Queue runs with `detach`: trials left running on the workers. */
	pending?: number;
}

/** How often a run polls the store for a trial another live process of the same store is running. */
const FOREIGN_POLL_MS = 1000;

/** The objective of a stored trial under `spec`'s objective (it may differ from the one it was stored with). */
export function storedObjective(spec: SweepSpec, row: StoredTrial): number {
	return row.scores !== null ? spec.objective.of(row.scores) : Number.NaN;
}

/**
 * Runs a sweep in this process, one trial at a time (each merge already uses every core): trials found
 * done in the store are reused, a trial another live process has claimed is waited for, and every
 * result is written to the store as it arrives, so an interrupted sweep resumes where it stopped.
 */
export async function* runSweepLocal(spec: SweepSpec, opts: SweepRunOptions): AsyncGenerator<SweepEvent, SweepSummary> {
	checkTrialEval(spec.eval);
	checkLocalData(spec);
	const started = performance.now();
	const store = ResultsStore.open(opts.store);
	const me = workerId();
	const summary: SweepSummary = { sweep: spec.name, store: opts.store, done: 0, failed: 0, reused: 0, seconds: 0 };
	try {
		yield { event: "start", sweep: spec.name, store: opts.store, strategy: spec.strategy.kind, planned: plannedTrials(spec) };
		const batches = sweepBatches(spec.strategy, spec.file);
		let objectives: number[] = [];
		for (let index = 0; ; index++) {
			const step = batches.next(objectives);
			if (step.done === true) break;
			const { trials, unique } = trialsOf(spec, step.value);
			const results = new Map<string, number>();
			let reused = 0;
			for (const t of unique) {
				if (store.enqueue(t) === "done") {
					reused++;
					results.set(t.key, storedObjective(spec, store.get(t.key) as StoredTrial));
				}
			}
			yield { event: "batch", index, trials: unique.length, reused };
			for (const t of unique) {
				if (results.has(t.key)) {
					const row = store.get(t.key) as StoredTrial;
					summary.reused++;
					yield {
						event: "trialDone",
						key: t.key,
						params: t.params,
						objective: results.get(t.key) as number,
						seconds: row.seconds ?? 0,
						worker: row.worker ?? "",
						reused: true,
					};
				}
			}
			let waiting = unique.filter((t) => !results.has(t.key));
			while (waiting.length > 0) {
				const later: TrialSpec[] = [];
				for (const t of waiting) {
					if (opts.signal?.aborted === true) throw new ExecError("Interrupted", "sweep interrupted");
					if (!store.claim(t.key, me, isDeadLocalWorker)) {
						const row = store.get(t.key);
						if (row?.status === "done" || row?.status === "failed")
							results.set(t.key, row.status === "done" ? storedObjective(spec, row) : Number.NaN);
						else later.push(t);
						continue;
					}
					yield* runOne(spec, t, store, me, opts, summary, results);
				}
				waiting = later;
				if (waiting.length > 0) await sleep(FOREIGN_POLL_MS);
			}
			objectives = trials.map((t) => results.get(t.key) ?? Number.NaN);
		}
		summary.seconds = (performance.now() - started) / 1000;
		yield { event: "done", done: summary.done + summary.reused, failed: summary.failed, seconds: summary.seconds };
		return summary;
	} finally {
		store.close();
	}
}

/** Runs one claimed trial and records its outcome; an interrupt gives the trial back and stops the sweep. */
async function* runOne(
	spec: SweepSpec,
	t: TrialSpec,
	store: ResultsStore,
	me: string,
	opts: SweepRunOptions,
	summary: SweepSummary,
	results: Map<string, number>,
): AsyncGenerator<SweepEvent, void> {
	const row = store.get(t.key) as StoredTrial;
	yield { event: "trialStart", key: t.key, params: t.params, worker: me, attempt: row.attempts };
	const events: TrialEvent[] = [];
	let wake: (() => void) | undefined;
	const running = runTrial(t, {
		worker: me,
		...(opts.workDir !== undefined ? { workDir: opts.workDir } : {}),
		...(opts.keepDir !== undefined ? { keepDir: opts.keepDir } : {}),
		...(opts.signal !== undefined ? { signal: opts.signal } : {}),
		onEvent: (e) => {
			events.push(e);
			wake?.();
		},
	});
	let settled = false;
	const finished = running
		.then(
			() => undefined,
			() => undefined,
		)
		.finally(() => {
			settled = true;
			wake?.();
		});
	while (!settled || events.length > 0) {
		if (events.length === 0) {
			await new Promise<void>((resolve) => (wake = resolve));
			wake = undefined;
		}
		while (events.length > 0) yield events.shift() as TrialEvent;
	}
	await finished;
	try {
		const result = await running;
		store.recordDone(result, spec.objective.name);
		summary.done++;
		results.set(t.key, result.objective);
		yield {
			event: "trialDone",
			key: t.key,
			params: t.params,
			objective: result.objective,
			seconds: result.seconds,
			worker: me,
			reused: false,
		};
	} catch (err) {
		if (err instanceof ExecError && err.kind === "Interrupted") {
			store.release(t.key, me);
			throw err;
		}
		const message = (err as Error).message.replace(/\s*\n\s*/g, " ");
		store.recordFailed(t.key, message, me);
		summary.failed++;
		results.set(t.key, Number.NaN);
		yield { event: "trialFailed", key: t.key, params: t.params, error: message, worker: me };
	}
}
