import type { Worker } from "node:worker_threads";
import {
	EvaluationError,
	ExecError,
	LmMergeError,
	LoraError,
	MethodError,
	ModelError,
	PlanError,
	RecipeError,
	SafetensorsError,
	TorchBinError,
} from "../errors.js";
import type { ModelOpenSpec } from "../lora/open.js";
import { startWorkerScript } from "../worker-script.js";
import type { JobResult, JobSpec } from "./job.js";

const ERROR_CLASSES: Record<string, { prototype: LmMergeError }> = {
	SafetensorsError,
	ModelError,
	PlanError,
	MethodError,
	ExecError,
	RecipeError,
	EvaluationError,
	LmMergeError,
	TorchBinError,
	LoraError,
};

interface WireError {
	name?: string;
	message: string;
	kind?: string;
	stack?: string;
}

/** Rebuilds an error thrown in a worker as the same class and kind (so the CLI reports it the same way). */
function reviveError(e: WireError): Error {
	const cls = e.name !== undefined ? ERROR_CLASSES[e.name] : undefined;
	const err: Error & { kind?: string } = cls !== undefined ? Object.create(cls.prototype as object) : new Error(e.message);
	if (cls !== undefined) {
		Object.defineProperty(err, "message", { value: e.message, enumerable: false, writable: true });
		Object.defineProperty(err, "exitCode", { value: 1, enumerable: false });
		err.name = e.name!;
		if (e.kind !== undefined) err.kind = e.kind;
	}
	if (e.stack !== undefined) err.stack = e.stack;
	return err;
}

/** The executor's worker thread (worker.ts / worker.js beside this file). */
function spawn(data: { models: ModelOpenSpec[] } & StreamTuning): Worker {
	return startWorkerScript(import.meta.url, "worker", data);
}

/** Tuning knobs of streamed jobs that worker threads take from the run (tests use small values). */
export interface StreamTuning {
	chunkElements?: number;
	holdBytes?: number;
}

interface Slot {
	worker: Worker;
	/** The jobs running on this worker, by job index. */
	busy: Map<number, { resolve(r: JobResult): void; reject(e: Error): void }>;
}

/**
 * Jobs each worker runs at once. Two: while one job computes, the other's reads and writes are in flight, so the
 * disk is not idle while every worker computes, nor the cores idle while every worker waits for the disk (jobs of
 * similar size otherwise move through their read-bound and compute-bound passes in step).
 */
const JOBS_PER_WORKER = 2;

/** A fixed set of worker threads, created once per merge, each executing up to JOBS_PER_WORKER jobs at a time. */
export class WorkerPool {
	private readonly waiting: Array<(slot: Slot) => void> = [];
	private failure: Error | undefined;

	private constructor(private readonly slots: Slot[]) {}

	static async create(threads: number, models: ModelOpenSpec[], opts: StreamTuning = {}): Promise<WorkerPool> {
		const slots: Slot[] = [];
		const pool = new WorkerPool(slots);
		await Promise.all(
			Array.from({ length: threads }, () => {
				const slot: Slot = { worker: spawn({ models, ...opts }), busy: new Map() };
				slots.push(slot);
				return new Promise<void>((resolve, reject) => {
					slot.worker.on("message", (msg: { type: string; index?: number; result?: JobResult; error?: WireError }) => {
						if (msg.type === "ready") resolve();
						else if (msg.type === "done") pool.settle(slot, msg.result!.index, msg.result!, undefined);
						else if (msg.type === "error") pool.settle(slot, msg.index!, undefined, reviveError(msg.error!));
					});
					slot.worker.on("error", (err) => {
						reject(err);
						pool.fail(slot, err);
					});
					slot.worker.on("exit", (code) => {
						if (code !== 0) pool.fail(slot, new ExecError("Backend", `a merge worker thread exited with code ${code}`));
					});
				});
			}),
		).catch(async (err: unknown) => {
			await pool.close();
			throw err;
		});
		return pool;
	}

	get size(): number {
		return this.slots.length;
	}

	/** Jobs the pool runs at once. */
	get capacity(): number {
		return this.slots.length * JOBS_PER_WORKER;
	}

	/** Runs one job on the least busy worker with room for it. */
	async run(spec: JobSpec): Promise<JobResult> {
		if (this.failure !== undefined) throw this.failure;
		let slot: Slot | undefined;
		for (const s of this.slots) if (s.busy.size < JOBS_PER_WORKER && (slot === undefined || s.busy.size < slot.busy.size)) slot = s;
		slot ??= await new Promise<Slot>((resolve) => this.waiting.push(resolve));
		const chosen = slot;
		return new Promise<JobResult>((resolve, reject) => {
			chosen.busy.set(spec.index, { resolve, reject });
			chosen.worker.postMessage({ type: "job", spec });
		});
	}

	private settle(slot: Slot, index: number, result: JobResult | undefined, err: Error | undefined): void {
		const busy = slot.busy.get(index);
		slot.busy.delete(index);
		if (err !== undefined) busy?.reject(err);
		else busy?.resolve(result!);
		const next = this.waiting.shift();
		if (next !== undefined) next(slot);
	}

	private fail(slot: Slot, err: Error): void {
		this.failure ??= err;
		for (const busy of slot.busy.values()) busy.reject(err);
		slot.busy.clear();
	}

	/** Closes the workers' files and stops them. */
	async close(): Promise<void> {
		await Promise.all(
			this.slots.map(async (slot) => {
				await new Promise<void>((resolve) => {
					const t = setTimeout(resolve, 2000);
					slot.worker.once("message", () => {
						clearTimeout(t);
						resolve();
					});
					slot.worker.postMessage({ type: "close" });
				}).catch(() => undefined);
				await slot.worker.terminate();
			}),
		);
	}
}
