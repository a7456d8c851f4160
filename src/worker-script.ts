import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * Starts the worker thread whose script is `name` (without extension) beside `callerUrl`: from compiled JS the
 * `.js` file; from TypeScript sources (tests, benchmarks under tsx) a tiny bootstrap registers tsx in the worker
 * first, since a worker does not inherit the parent's loader. Shared by the merge executor's pool and the GGUF
 * export's encoders.
 */
export function startWorkerScript(callerUrl: string, name: string, workerData: unknown): Worker {
	const here = new URL(callerUrl);
	if (here.pathname.endsWith(".ts")) {
		// The ESM build of tsx's register API sits beside the CommonJS one that require.resolve finds.
		const tsx = createRequire(callerUrl)
			.resolve("tsx/esm/api")
			.replace(/\.cjs$/, ".mjs");
		const file = new URL(`./${name}.ts`, callerUrl).href;
		const tsxUrl = JSON.stringify(new URL(`file://${tsx}`).href);
		const code = `import(${tsxUrl}).then((m) => { m.register(); return import(${JSON.stringify(file)}); })`;
		return new Worker(code, { eval: true, workerData });
	}
	return new Worker(new URL(`./${name}.js`, callerUrl), { workerData });
}
