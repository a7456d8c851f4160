/**
 * Worker-thread entry: opens the input models once, then executes jobs posted by the pool (read, merge,
 * encode, write at the final offset) and answers with their results. Only built-in methods run here; the
 * executor runs custom registries in its own thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type ModelOpenSpec, openModelWithAdapter } from "../lora/open.js";
import { BUILTIN_METHODS, createRegistry } from "../methods/registry.js";
import { closeJobEnv, executeJob, type JobEnv, type JobSpec } from "./job.js";
import type { StreamTuning } from "./pool.js";

interface WorkerInit extends StreamTuning {
	models: ModelOpenSpec[];
}

const port = parentPort!;
const init = workerData as WorkerInit;
const registry = createRegistry(BUILTIN_METHODS);
const env: JobEnv = {
	models: await Promise.all(init.models.map((m) => openModelWithAdapter(m))),
	method: (name) => registry.get(name),
	handles: new Map(),
	direct: new Map(),
	...(init.chunkElements !== undefined ? { chunkElements: init.chunkElements } : {}),
	...(init.holdBytes !== undefined ? { holdBytes: init.holdBytes } : {}),
};

port.on("message", (msg: { type: "job"; spec: JobSpec } | { type: "close" }) => {
	if (msg.type === "close") {
		void (async () => {
			await closeJobEnv(env);
			await Promise.all(env.models.map((m) => m.close()));
			port.postMessage({ type: "closed" });
		})();
		return;
	}
	executeJob(msg.spec, env).then(
		(result) => port.postMessage({ type: "done", result }),
		(err: unknown) => {
			const e = err as Error & { kind?: string };
			port.postMessage({
				type: "error",
				index: msg.spec.index,
				error: { name: e?.name, message: e?.message ?? String(err), kind: e?.kind, stack: e?.stack },
			});
		},
	);
});
port.postMessage({ type: "ready" });
