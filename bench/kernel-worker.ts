/**
 * Worker-thread entry of the kernel bench (kernel-threads.ts): builds its own copy of the bench inputs, then on
 * request prepares one case in one mode (untimed) and, on "go", times one run of it by wall clock.
 */
import { parentPort, workerData } from "node:worker_threads";
import { benchTensors, CaseEnv, type KernelMode, kernelCases, type ModeRun, modeRun } from "./kernel-cases.js";
import type { WorkerReply, WorkerRequest } from "./kernel-threads.js";

const port = parentPort!;
const { elements } = workerData as { elements: number };
const env = new CaseEnv(benchTensors(elements), elements);
const cases = kernelCases(env.data, elements);
let armed: ModeRun | undefined;

const reply = (msg: WorkerReply) => port.postMessage(msg);

function prepare(index: number, mode: KernelMode): void {
	const c = cases[index];
	armed = c !== undefined ? modeRun(c, mode, env) : undefined;
	if (armed === undefined) throw new Error(`kernel worker: case ${index} has no "${mode}" form`);
	armed.prepare?.();
}

port.on("message", (msg: WorkerRequest) => {
	try {
		if (msg.type === "prepare") {
			prepare(msg.index, msg.mode);
			reply({ type: "prepared" });
		} else {
			const run = armed;
			if (run === undefined) throw new Error("kernel worker: go before prepare");
			const t = performance.now();
			run.run();
			reply({ type: "time", seconds: (performance.now() - t) / 1000 });
		}
	} catch (err) {
		reply({ type: "error", message: (err as Error).message ?? String(err) });
	}
});
reply({ type: "ready" });
