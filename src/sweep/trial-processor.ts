/**
 * The BullMQ sandboxed processor `merge worker` runs each trial in: a child process, so a long merge or
 * forward pass never blocks the worker's event loop, which keeps renewing the job's lock meanwhile (a
 * blocked loop would let the lock lapse and the trial run twice). Loaded by BullMQ, not imported.
 */
import os from "node:os";
import type { SandboxedJob } from "bullmq";
import { EvaluationError, ExecError, LmMergeError, MethodError, PlanError, RecipeError } from "../errors.js";
import type { TrialJobData } from "./queue.js";
import { runTrial } from "./trial.js";
import { PROCESSOR_ENV, type TrialProgress } from "./trial-processor-types.js";
import type { TrialResult } from "./trial-types.js";
import { workerId } from "./worker-id.js";

/** Progress goes to Redis at most this often per trial (every tensor or prompt batch would flood it). */
const PROGRESS_EVERY_MS = 1000;

// The worker that forked this process was killed: stop too, rather than finish a trial nobody collects.
process.on("disconnect", () => process.exit(1));

/** Errors that would fail again on any worker: BullMQ should not retry them. */
function isDeterministic(err: unknown): boolean {
	if (err instanceof RecipeError || err instanceof PlanError || err instanceof MethodError) return true;
	return err instanceof EvaluationError && err.kind !== "Backend";
}

export default async function processTrial(
	job: SandboxedJob<TrialJobData, TrialResult>,
	token?: string,
	signal?: AbortSignal,
): Promise<TrialResult> {
	const worker = process.env[PROCESSOR_ENV.worker] ?? workerId();
	const keepDir = process.env[PROCESSOR_ENV.keepDir];
	const workDir = process.env[PROCESSOR_ENV.workDir] ?? os.tmpdir();
	const report = (p: TrialProgress): void => {
		job.updateProgress(p).catch(() => {}); // progress is advisory; the result travels as the return value
	};
	report({ phase: "start", worker, startedAt: new Date().toISOString(), attempt: (job.attemptsStarted ?? 0) + 1 });
	let last = 0;
	try {
		const result = await runTrial(job.data, {
			worker,
			workDir,
			...(job.data.keep && keepDir !== undefined ? { keepDir } : {}),
			...(signal !== undefined ? { signal } : {}),
			onEvent: (e) => {
				if (e.event !== "progress" || (Date.now() - last < PROGRESS_EVERY_MS && e.done < e.total)) return;
				last = Date.now();
				report({ phase: e.phase, done: e.done, total: e.total });
			},
		});
		report({ phase: "done" });
		return result;
	} catch (err) {
		if (signal?.aborted === true && err instanceof ExecError && err.kind === "Interrupted") {
			// Handed back (second Ctrl-C on the worker): the trial waits for the next worker, no attempt spent.
			await job.moveToWait(token);
			const back = new Error("trial handed back to the queue");
			back.name = "WaitingError";
			throw back;
		}
		const message = err instanceof LmMergeError ? err.message : `${(err as Error).name}: ${(err as Error).message}`;
		const out = new Error(message.replace(/\s*\n\s*/g, " "));
		if (isDeterministic(err)) out.name = "UnrecoverableError";
		throw out;
	}
}
