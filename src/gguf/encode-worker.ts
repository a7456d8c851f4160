/**
 * Worker thread of the export's chunk pool: opens the source files it is asked to read and the temporary output
 * file, then runs a ChunkPipeline on the chunks it receives (read, encode with this thread's WebAssembly arena,
 * write at the chunk's place in the file) and answers each with "done" or the error.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openSafetensors, type SafetensorsFile } from "../io/reader.js";
import { wasmArena } from "../wasm/kernels.js";
import { ChunkPipeline, closeChunkOutput, openChunkOutput } from "./chunk-pipeline.js";
import type { ExportChunk } from "./export-chunks.js";

export interface ChunkWorkerData {
	out: string;
	maxIn: number;
	maxOut: number;
}

type Request = { type: "chunk"; id: number; chunk: ExportChunk } | { type: "close" };

const port = parentPort!;
const init = workerData as ChunkWorkerData;
const files = new Map<string, Promise<SafetensorsFile>>();
const fileOf = (path: string) => {
	let f = files.get(path);
	if (f === undefined) {
		f = openSafetensors(path);
		files.set(path, f);
	}
	return f;
};
const output = await openChunkOutput(init.out);
const pipeline = new ChunkPipeline(
	wasmArena(),
	async (c, scratch) => (await fileOf(c.file)).readRawAligned(c.name, c.start, c.end, scratch),
	output,
	init.maxIn,
	init.maxOut,
);

port.on("message", (msg: Request) => {
	if (msg.type === "close") {
		void (async () => {
			await pipeline.close();
			await closeChunkOutput(output);
			await Promise.all([...files.values()].map(async (f) => (await f.catch(() => undefined))?.close().catch(() => undefined)));
			port.postMessage({ type: "closed" });
		})();
		return;
	}
	pipeline.submit(msg.chunk).then(
		() => port.postMessage({ type: "done", id: msg.id }),
		(err: unknown) => {
			const e = err as Error & { kind?: string; file?: string; tensor?: string };
			port.postMessage({
				type: "error",
				id: msg.id,
				error: { name: e?.name, message: e?.message ?? String(err), kind: e?.kind, stack: e?.stack },
			});
		},
	);
});
port.postMessage({ type: "ready" });
