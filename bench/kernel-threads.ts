/**
 * The kernel bench at N threads: N worker threads, each with its own copy of the inputs, run the same case at the
 * same time (all prepare untimed, then all start on one signal). A repeat counts N × elements over the slowest
 * worker's wall time; the best repeat is reported, as the executor's N-thread throughput is bounded by its slowest
 * thread.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { KernelMode } from "./kernel-cases.js";

/** Requests from the bench to a worker. */
export type WorkerRequest = { type: "prepare"; index: number; mode: KernelMode } | { type: "go" };
/** Replies of a worker; "ready" once its inputs are built. */
export type WorkerReply = { type: "ready" } | { type: "prepared" } | { type: "time"; seconds: number } | { type: "error"; message: string };

/**
 * Aggregate output elements per second of N threads: `times[r][w]` is worker w's seconds in repeat r, each worker
 * producing `elements` outputs; a repeat's rate is N × elements over its slowest worker, and the best repeat counts.
 */
export function aggregateRate(elements: number, times: readonly (readonly number[])[]): number {
	let best = 0;
	for (const repeat of times) {
		if (repeat.length === 0) continue;
		const slowest = Math.max(...repeat);
		best = Math.max(best, (repeat.length * elements) / slowest);
	}
	return best;
}

/** The worker script: kernel-worker.js beside this file, or under tsx a bootstrap that registers tsx first. */
function spawn(elements: number): Worker {
	const here = new URL(import.meta.url);
	if (here.pathname.endsWith(".ts")) {
		// The ESM build of tsx's register API sits beside the CommonJS one that require.resolve finds.
		const tsx = createRequire(import.meta.url)
			.resolve("tsx/esm/api")
			.replace(/\.cjs$/, ".mjs");
		const file = new URL("./kernel-worker.ts", import.meta.url).href;
		const tsxUrl = JSON.stringify(new URL(`file://${tsx}`).href);
		const code = `import(${tsxUrl}).then((m) => { m.register(); return import(${JSON.stringify(file)}); })`;
		return new Worker(code, { eval: true, workerData: { elements } });
	}
	return new Worker(new URL("./kernel-worker.js", import.meta.url), { workerData: { elements } });
}

/** One worker and the reply it owes (one request at a time). */
class Slot {
	private waiting: { resolve(r: WorkerReply): void; reject(e: Error): void } | undefined;
	private failure: Error | undefined;
	readonly ready: Promise<void>;

	constructor(readonly worker: Worker) {
		this.ready = new Promise<void>((resolve, reject) => (this.waiting = { resolve: () => resolve(), reject }));
		worker.on("message", (msg: WorkerReply) => {
			const w = this.waiting;
			this.waiting = undefined;
			if (msg.type === "error") w?.reject(new Error(msg.message));
			else w?.resolve(msg);
		});
		worker.on("error", (err) => this.fail(err));
		worker.on("exit", (code) => this.fail(new Error(`a kernel bench worker exited with code ${code}`)));
	}

	private fail(err: Error): void {
		this.failure ??= err;
		this.waiting?.reject(err);
		this.waiting = undefined;
	}

	request(msg: WorkerRequest): Promise<WorkerReply> {
		if (this.failure !== undefined) return Promise.reject(this.failure);
		return new Promise<WorkerReply>((resolve, reject) => {
			this.waiting = { resolve, reject };
			this.worker.postMessage(msg);
		});
	}
}

/** N bench workers, started once per bench run and reused for every case. */
export class KernelThreads {
	private constructor(private readonly slots: Slot[]) {}

	/** Starts `threads` workers on `elements`-long inputs and waits until each has built them. */
	static async start(threads: number, elements: number): Promise<KernelThreads> {
		const pool = new KernelThreads(Array.from({ length: threads }, () => new Slot(spawn(elements))));
		try {
			await Promise.all(pool.slots.map((s) => s.ready));
		} catch (err) {
			await pool.close();
			throw err;
		}
		return pool;
	}

	get size(): number {
		return this.slots.length;
	}

	/** Seconds per repeat per worker of case `index` (in kernelCases order) in `mode`, all workers running at once. */
	async time(index: number, mode: KernelMode, repeats: number): Promise<number[][]> {
		const times: number[][] = [];
		for (let r = 0; r < repeats; r++) {
			await Promise.all(this.slots.map((s) => s.request({ type: "prepare", index, mode })));
			const replies = await Promise.all(this.slots.map((s) => s.request({ type: "go" })));
			times.push(replies.map((m) => (m.type === "time" ? m.seconds : NaN)));
		}
		return times;
	}

	/** Stops the workers. */
	async close(): Promise<void> {
		await Promise.all(this.slots.map((s) => s.worker.terminate()));
	}
}
