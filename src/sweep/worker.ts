import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Job, Worker } from "bullmq";
import { SweepError } from "../errors.js";
import { connectionOptions, DEFAULT_QUEUE_NAME, openQueue, type TrialJobData } from "./queue.js";
import { removeStaleTrialDirs } from "./stale-trials.js";
import { PROCESSOR_ENV, type TrialProgress } from "./trial-processor-types.js";
import type { TrialResult } from "./trial-types.js";
import { workerId } from "./worker-id.js";

/**
 * How long a worker's claim on a trial lasts without renewal (renewed every half of it while the trial
 * runs). A killed worker's trial is handed to another worker once this lapses and the next stalled
 * check (run as often) sees it: about 30–60 s by default.
 */
const DEFAULT_LOCK_MS = 30_000;

/** A trial whose worker is lost this many times is failed rather than started again (a trial that kills workers). */
const MAX_STALLED = 2;

/** Options of {@link startWorker}: the queue to serve, concurrency, lock duration and working folders. */
interface WorkerOptions {
	/** redis://HOST:PORT[/db] */
	queue: string;
	queueName?: string;
	/** Trials run at once, each in its own process (default 1: a merge already uses every core). */
	concurrency?: number;
	/** Lock duration in ms (DEFAULT_LOCK_MS). */
	lockMs?: number;
	/** Parent folder of temporary merges (default the OS temp folder). */
	workDir?: string;
	/** Where trials enqueued with --keep leave their merged model and eval.json (default ./lm-merge-trials). */
	keepDir?: string;
	/** A name shown in the store's worker column (default host:pid). */
	name?: string;
}

/** What a worker reports to its CLI. */
export type WorkerEvent =
	| { event: "ready"; worker: string; queue: string; concurrency: number; removed: string[] }
	| { event: "active"; key: string; params: Record<string, unknown>; attempt: number }
	| { event: "progress"; key: string; progress: TrialProgress }
	| { event: "completed"; key: string; objective: number; seconds: number }
	| { event: "failed"; key: string; error: string; willRetry: boolean }
	| { event: "error"; message: string };

/** A running worker, to stop it gracefully ({@link WorkerHandle.close}) or hand its trials back. */
interface WorkerHandle {
	readonly id: string;
	/** Takes no new trial, lets the running ones finish, then disconnects. */
	close(): Promise<void>;
	/** Stops the running trials between tensors or prompt batches and puts them back in the queue, then disconnects. */
	handBack(): Promise<void>;
}

/** The sandboxed processor beside this module (compiled .js in dist, .ts when run from source through tsx). */
function processorFile(): URL {
	const here = fileURLToPath(import.meta.url);
	const file = path.join(path.dirname(here), `trial-processor${path.extname(here)}`);
	if (!existsSync(file)) throw new SweepError("Queue", `the trial processor ${file} is missing: build lm-merge (npm run build) first`);
	return pathToFileURL(file);
}

const keyOf = (job: Job | undefined): string => (job?.id ?? "").replace(/^trial-/, "");

/**
 * Starts a BullMQ worker on the sweep queue. Each trial runs in a child process (trial-processor.ts);
 * retries with back-off, stalled-trial detection (a killed worker's trial goes back to the queue) and
 * concurrency are BullMQ's own. Results go back through the queue to the sweep that enqueued them.
 */
export async function startWorker(opts: WorkerOptions, onEvent: (e: WorkerEvent) => void = () => {}): Promise<WorkerHandle> {
	const { Worker } = await import("bullmq");
	const name = opts.queueName ?? DEFAULT_QUEUE_NAME;
	// Fails with one clear error when Redis is not there, before a worker retries in the background.
	await (await openQueue(opts.queue, name, false)).close();
	const id = workerId(opts.name);
	const lockMs = opts.lockMs ?? DEFAULT_LOCK_MS;
	const concurrency = opts.concurrency ?? 1;
	const workDir = path.resolve(opts.workDir ?? os.tmpdir());
	const keepDir = path.resolve(opts.keepDir ?? "lm-merge-trials");
	const removed = await removeStaleTrialDirs(workDir);
	const worker: Worker<TrialJobData, TrialResult> = new Worker(name, processorFile(), {
		connection: connectionOptions(opts.queue),
		concurrency,
		lockDuration: lockMs,
		stalledInterval: lockMs,
		maxStalledCount: MAX_STALLED,
		name: id,
		useWorkerThreads: false,
		workerForkOptions: {
			env: { ...process.env, [PROCESSOR_ENV.worker]: id, [PROCESSOR_ENV.workDir]: workDir, [PROCESSOR_ENV.keepDir]: keepDir },
		},
	});
	worker.on("active", (job) => onEvent({ event: "active", key: keyOf(job), params: job.data.params, attempt: job.attemptsStarted }));
	worker.on("progress", (job, progress) => onEvent({ event: "progress", key: keyOf(job), progress: progress as TrialProgress }));
	worker.on("completed", (job, result) =>
		onEvent({ event: "completed", key: keyOf(job), objective: result.objective, seconds: result.seconds }),
	);
	worker.on("failed", (job, err) => {
		if (err.name === "WaitingError") return;
		const willRetry = job !== undefined && err.name !== "UnrecoverableError" && job.attemptsMade < (job.opts.attempts ?? 1);
		onEvent({ event: "failed", key: keyOf(job), error: err.message, willRetry });
	});
	worker.on("error", (err) => onEvent({ event: "error", message: err.message }));
	await worker.waitUntilReady();
	onEvent({ event: "ready", worker: id, queue: `${opts.queue} (${name})`, concurrency, removed });
	return {
		id,
		close: () => worker.close(),
		handBack: async () => {
			worker.cancelAllJobs("handed back");
			await worker.close();
		},
	};
}
