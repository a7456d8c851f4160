import type { Job, Queue, QueueEvents } from "bullmq";
import { ExecError, SweepError } from "../errors.js";
import { Channel } from "./channel.js";
import type { SweepEvent } from "./events.js";
import { type SweepRunOptions, type SweepSummary, storedObjective } from "./local.js";
import { plannedTrials, trialsOf } from "./plan-trials.js";
import type { SweepSpec } from "./spec.js";
import { ResultsStore, type StoredTrial } from "./store.js";
import { sweepBatches } from "./strategy.js";
import { checkTrialEval } from "./trial.js";
import type { TrialProgress } from "./trial-processor-types.js";
import type { TrialResult, TrialSpec } from "./trial-types.js";

/** The BullMQ queue sweeps and workers share unless told otherwise. */
export const DEFAULT_QUEUE_NAME = "lm-merge-trials";

/**
 * How often a waiting sweep asks Redis for the state of its unfinished jobs, besides listening to
 * events: a result that completed while this process was away (or an event missed over a reconnect)
 * is picked up within this time.
 */
const RECONCILE_MS = 5000;

/** BullMQ retries a trial that threw this many times in all, waiting 5 s, 10 s, … between tries. */
const TRIAL_ATTEMPTS = 3;
const BACKOFF_MS = 5000;

/** A trial's job: the trial, and whether the worker keeps the merged model. */
export interface TrialJobData extends TrialSpec {
	keep: boolean;
}

interface QueueRunOptions extends SweepRunOptions {
	/** redis://[user:password@]host:port[/db] (rediss:// for TLS). */
	queue: string;
	queueName?: string;
	/** Enqueue and return without waiting (grid and random sweeps only). */
	detach?: boolean;
	/** Workers keep each trial's merged model in their --keep-dir. */
	keep?: boolean;
}

/** ioredis options from a redis:// URL; a malformed URL is a usage-level SweepError. */
function parseQueueUrl(url: string): { host: string; port: number; db?: number; username?: string; password?: string; tls?: object } {
	let u: URL;
	try {
		u = new URL(url);
	} catch {
		throw new SweepError("Queue", `--queue ${url}: expected redis://HOST:PORT`);
	}
	if (u.protocol !== "redis:" && u.protocol !== "rediss:")
		throw new SweepError("Queue", `--queue ${url}: expected a redis:// or rediss:// URL`);
	const out: ReturnType<typeof parseQueueUrl> = { host: u.hostname || "127.0.0.1", port: u.port !== "" ? Number(u.port) : 6379 };
	const db = u.pathname.replace(/^\//, "");
	if (db !== "") {
		if (!/^\d+$/.test(db)) throw new SweepError("Queue", `--queue ${url}: the path must be a database number`);
		out.db = Number(db);
	}
	if (u.username !== "") out.username = decodeURIComponent(u.username);
	if (u.password !== "") out.password = decodeURIComponent(u.password);
	if (u.protocol === "rediss:") out.tls = {};
	return out;
}

/** Connection options for BullMQ's long-lived connections: reconnect after a Redis restart, backing off to 5 s. */
export function connectionOptions(url: string) {
	return {
		...parseQueueUrl(url),
		maxRetriesPerRequest: null,
		connectTimeout: 5000,
		retryStrategy: (times: number) => Math.min(times * 250, 5000),
	};
}

/** How long the first contact with Redis may take before a sweep or worker gives up with an error. */
const PROBE_TIMEOUT_MS = 5000;

/** One PING with no retries: says at once, in one line, when Redis is not where --queue points. */
async function probe(url: string): Promise<void> {
	const { Redis } = await import("ioredis");
	const client = new Redis({
		...parseQueueUrl(url),
		lazyConnect: true,
		connectTimeout: PROBE_TIMEOUT_MS,
		maxRetriesPerRequest: 0,
		retryStrategy: () => null,
	});
	let cause: Error | undefined;
	client.on("error", (err: Error) => (cause ??= err)); // the socket's own reason (ECONNREFUSED, ...) beats "Connection is closed"
	try {
		await client.connect();
		await client.ping();
	} catch (err) {
		throw new SweepError("Queue", `cannot reach Redis at ${url}: ${(cause ?? (err as Error)).message}`, undefined, { cause: cause ?? err });
	} finally {
		client.disconnect();
	}
}

function jobIdOf(key: string): string {
	return `trial-${key}`;
}

function keyOfJob(jobId: string): string {
	return jobId.replace(/^trial-/, "");
}

/** Opens the queue (and its event stream), turning "Redis is not there" into one clear error. */
export async function openQueue(
	url: string,
	name: string,
	withEvents: boolean,
): Promise<{ queue: Queue; events: QueueEvents | undefined; close(): Promise<void> }> {
	await probe(url);
	const { Queue, QueueEvents } = await import("bullmq");
	const connection = connectionOptions(url);
	const queue = new Queue(name, { connection });
	const events = withEvents ? new QueueEvents(name, { connection }) : undefined;
	const close = async () => {
		await Promise.allSettled([queue.close(), events?.close()]);
	};
	queue.on("error", () => {}); // reported through waitUntilReady / the next command instead
	events?.on("error", () => {});
	try {
		await Promise.race([
			Promise.all([queue.waitUntilReady(), events?.waitUntilReady()]),
			new Promise((_, reject) => setTimeout(() => reject(new Error("no answer within 10 s")), 10_000).unref()),
		]);
	} catch (err) {
		await close();
		throw new SweepError("Queue", `cannot reach Redis at ${url}: ${(err as Error).message}`, undefined, { cause: err });
	}
	return { queue, events, close };
}

/** Parses a job's return value (BullMQ gives it deserialized, or as JSON text from older servers). */
function resultOf(value: unknown): TrialResult {
	return (typeof value === "string" ? JSON.parse(value) : value) as TrialResult;
}

/**
 * Records every finished job of `keys` that the store does not have yet (completed → done, failed after
 * its last retry → failed) and removes it from Redis. Returns the keys it settled.
 */
async function collectFinished(
	queue: Queue,
	store: ResultsStore,
	keys: Iterable<string>,
	objectiveName: (key: string) => string,
): Promise<Map<string, "done" | "failed">> {
	const settled = new Map<string, "done" | "failed">();
	for (const key of keys) {
		const job = (await queue.getJob(jobIdOf(key))) as Job | undefined;
		if (job === undefined) continue;
		const state = await job.getState();
		if (state === "completed") {
			store.recordDone(resultOf(job.returnvalue), objectiveName(key), job.attemptsStarted);
			settled.set(key, "done");
		} else if (state === "failed") {
			store.recordFailed(key, job.failedReason.replace(/\s*\n\s*/g, " "), job.processedBy, job.attemptsStarted);
			settled.set(key, "failed");
		} else continue;
		await job.remove().catch(() => {}); // already removed by another collector: fine
	}
	return settled;
}

type QueueSignal =
	| { kind: "active"; key: string }
	| { kind: "progress"; key: string; data: TrialProgress }
	| { kind: "completed"; key: string; result: TrialResult }
	| { kind: "failed"; key: string }
	| { kind: "tick" };

/**
 * Runs a sweep through a BullMQ queue: each trial becomes a job (its id is the trial key, so a trial is
 * queued once however often the sweep is started), workers anywhere run them, and this process writes
 * the store from the results that come back through the queue (workers never open the store).
 */
export async function* runSweepQueued(spec: SweepSpec, opts: QueueRunOptions): AsyncGenerator<SweepEvent, SweepSummary> {
	checkTrialEval(spec.eval);
	if (opts.detach === true && spec.strategy.kind === "search") {
		throw new SweepError(
			"Spec",
			"--detach works with grid and random sweeps: a search needs each generation's results to choose the next",
			spec.file,
		);
	}
	const started = performance.now();
	const name = opts.queueName ?? DEFAULT_QUEUE_NAME;
	const store = ResultsStore.open(opts.store);
	const summary: SweepSummary = { sweep: spec.name, store: opts.store, done: 0, failed: 0, reused: 0, seconds: 0 };
	const { queue, events, close } = await openQueue(opts.queue, name, opts.detach !== true);
	const inbox = new Channel<QueueSignal>();
	events?.on("active", ({ jobId }) => inbox.push({ kind: "active", key: keyOfJob(jobId) }));
	events?.on("progress", ({ jobId, data }) =>
		inbox.push({ kind: "progress", key: keyOfJob(jobId), data: data as unknown as TrialProgress }),
	);
	events?.on("completed", ({ jobId, returnvalue }) =>
		inbox.push({ kind: "completed", key: keyOfJob(jobId), result: resultOf(returnvalue) }),
	);
	events?.on("failed", ({ jobId }) => inbox.push({ kind: "failed", key: keyOfJob(jobId) }));
	const ticker = setInterval(() => inbox.push({ kind: "tick" }), RECONCILE_MS);
	try {
		yield {
			event: "start",
			sweep: spec.name,
			store: opts.store,
			strategy: spec.strategy.kind,
			planned: plannedTrials(spec),
			queue: opts.queue,
		};
		const batches = sweepBatches(spec.strategy, spec.file);
		let objectives: number[] = [];
		for (let index = 0; ; index++) {
			const step = batches.next(objectives);
			if (step.done === true) break;
			const { trials, unique } = trialsOf(spec, step.value);
			const results = new Map<string, number>();
			const pending = new Map<string, TrialSpec>();
			for (const t of unique) {
				if (store.enqueue(t) === "done") {
					const row = store.get(t.key) as StoredTrial;
					results.set(t.key, storedObjective(spec, row));
					summary.reused++;
				} else pending.set(t.key, t);
			}
			yield { event: "batch", index, trials: unique.length, reused: unique.length - pending.size };
			for (const t of unique) {
				if (!results.has(t.key)) continue;
				const row = store.get(t.key) as StoredTrial;
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
			yield* enqueue(queue, [...pending.values()], opts, name);
			if (opts.detach === true) {
				summary.pending = pending.size;
				yield { event: "detached", queued: pending.size };
				break;
			}
			while (pending.size > 0) {
				if (opts.signal?.aborted === true) {
					throw new ExecError(
						"Interrupted",
						`stopped waiting; ${pending.size} trial(s) stay with the workers on ${opts.queue}: run the same command again to collect them`,
					);
				}
				const msg = await inbox.next(1000);
				if (msg === undefined) continue;
				const settle = (key: string, outcome: "done" | "failed"): SweepEvent => {
					const t = pending.get(key) as TrialSpec;
					pending.delete(key);
					const row = store.get(key) as StoredTrial;
					if (outcome === "done") {
						summary.done++;
						results.set(key, storedObjective(spec, row));
						return {
							event: "trialDone",
							key,
							params: t.params,
							objective: results.get(key) as number,
							seconds: row.seconds ?? 0,
							worker: row.worker ?? "",
							reused: false,
						};
					}
					summary.failed++;
					results.set(key, Number.NaN);
					return {
						event: "trialFailed",
						key,
						params: t.params,
						error: row.error ?? "failed",
						...(row.worker !== null ? { worker: row.worker } : {}),
					};
				};
				if (msg.kind === "tick" || msg.kind === "failed") {
					const keys = msg.kind === "tick" ? [...pending.keys()] : pending.has(msg.key) ? [msg.key] : [];
					const settled = await collectFinished(queue, store, keys, () => spec.objective.name);
					for (const [key, outcome] of settled) yield settle(key, outcome);
				} else if (msg.kind === "completed") {
					if (!pending.has(msg.key)) continue;
					const job = (await queue.getJob(jobIdOf(msg.key))) as Job | undefined;
					store.recordDone(msg.result, spec.objective.name, job?.attemptsStarted);
					await job?.remove().catch(() => {});
					yield settle(msg.key, "done");
				} else if (msg.kind === "active") {
					const t = pending.get(msg.key);
					if (t === undefined) continue;
					// Every activation counts as an attempt, including one whose worker dies before the trial process reports.
					const job = (await queue.getJob(jobIdOf(msg.key))) as Job | undefined;
					const worker = job?.processedBy ?? null;
					store.markRunning(msg.key, worker);
					yield {
						event: "trialStart",
						key: msg.key,
						params: t.params,
						worker: worker ?? "a worker",
						attempt: (store.get(msg.key) as StoredTrial).attempts,
					};
				} else if (pending.has(msg.key)) {
					const p = msg.data;
					if (p.phase === "start") {
						store.setWorker(msg.key, p.worker);
					} else if (p.phase === "merge" || p.phase === "eval") {
						yield { event: "progress", key: msg.key, phase: p.phase, done: p.done, total: p.total };
					}
				}
			}
			objectives = trials.map((t) => results.get(t.key) ?? Number.NaN);
		}
		summary.seconds = (performance.now() - started) / 1000;
		if (opts.detach !== true)
			yield { event: "done", done: summary.done + summary.reused, failed: summary.failed, seconds: summary.seconds };
		return summary;
	} finally {
		clearInterval(ticker);
		inbox.close();
		await close();
		store.close();
	}
}

/**
 * Adds the trials as jobs. A job already in Redis is left alone, except that one whose retries ran out
 * in an earlier run is retried, and one that completed while no sweep was waiting is collected next tick.
 */
async function* enqueue(queue: Queue, trials: readonly TrialSpec[], opts: QueueRunOptions, name: string): AsyncGenerator<SweepEvent, void> {
	let added = 0;
	for (const t of trials) {
		const data: TrialJobData = { ...t, keep: opts.keep === true };
		const job = await queue.add("trial", data, {
			jobId: jobIdOf(t.key),
			attempts: TRIAL_ATTEMPTS,
			backoff: { type: "exponential", delay: BACKOFF_MS },
			removeOnComplete: false,
			removeOnFail: false,
		});
		if ((await job.getState()) === "failed") await job.retry("failed");
		added++;
	}
	yield { event: "enqueued", jobs: added, queue: `${opts.queue} (${name})` };
}

/** Job counts and live workers of a queue, for `merge sweep status --queue`. */
interface QueueStatus {
	counts: Record<string, number>;
	workers: string[];
}

export async function queueStatus(url: string, name: string = DEFAULT_QUEUE_NAME): Promise<QueueStatus> {
	const { queue, close } = await openQueue(url, name, false);
	try {
		const counts = await queue.getJobCounts("waiting", "active", "delayed", "completed", "failed", "prioritized");
		const workers = (await queue.getWorkers()).map((w) =>
			String((w as Record<string, unknown>).name ?? (w as Record<string, unknown>).addr ?? "?"),
		);
		return { counts, workers };
	} finally {
		await close();
	}
}

/**
 * Collects into `storeFile` the results of a sweep's trials that finished on the queue while no sweep
 * was waiting (`--detach`, or an interrupted wait). Returns how many it recorded.
 */
export async function collectFinishedFor(
	storeFile: string,
	url: string,
	name: string = DEFAULT_QUEUE_NAME,
	sweep?: string,
): Promise<number> {
	const store = ResultsStore.open(storeFile);
	try {
		const open = store.list(sweep !== undefined ? { sweep } : {}).filter((r) => r.status === "queued" || r.status === "running");
		if (open.length === 0) return 0;
		const objective = new Map(open.map((r) => [r.key, r.objectiveName ?? "mean_accuracy"]));
		const { queue, close } = await openQueue(url, name, false);
		try {
			const settled = await collectFinished(queue, store, objective.keys(), (key) => objective.get(key) ?? "mean_accuracy");
			return settled.size;
		} finally {
			await close();
		}
	} finally {
		store.close();
	}
}
