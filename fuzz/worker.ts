/**
 * A worker thread of `npm run fuzz`: runs the cases it is sent in batches and reports each batch's tally. Before
 * every case it writes the case number and the time to shared memory, so the main thread can see a case that never
 * ends (a hang: an infinite loop cannot be interrupted from inside its own thread) and terminate the worker.
 */
import { parentPort, workerData } from "node:worker_threads";
import { runFuzzRange } from "./run.js";
import type { Target } from "./targets.js";
import { threadId } from "./thread-cpu.js";

export interface WorkerInit {
	seed: number;
	targets: Target[];
	slowMs: number;
	/** Faults to inject (the runner's own tests, see run.ts). */
	inject: Map<number, "crash" | "hang">;
	/** [case number, start time in ms since the epoch] of the case running now, and this thread's id (or -1). */
	heartbeat: SharedArrayBuffer;
}

export interface Batch {
	start: number;
	end: number;
	/** Cases of the range that hung in an earlier worker. */
	skip?: number[];
}

const init = workerData as WorkerInit;
const beat = new Float64Array(init.heartbeat);
beat[2] = threadId() ?? -1;

parentPort!.on("message", (batch: Batch) => {
	const tally = runFuzzRange({
		seed: init.seed,
		start: batch.start,
		end: batch.end,
		...(batch.skip !== undefined ? { skip: batch.skip } : {}),
		targets: init.targets,
		slowMs: init.slowMs,
		inject: init.inject,
		onCase: (i) => {
			beat[0] = i;
			beat[1] = Date.now();
		},
	});
	beat[1] = 0;
	parentPort!.postMessage({ batch, tally });
});
parentPort!.postMessage("ready");
