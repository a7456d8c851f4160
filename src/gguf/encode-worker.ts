/**
 * Worker thread of the export's encode pool: receives float32 rows and a ggml type, answers with the encoded
 * bytes. Both buffers are transferred, not copied.
 */
import { parentPort } from "node:worker_threads";
import type { GgmlType } from "./constants.js";
import { encodeRows } from "./encode.js";

interface Request {
	id: number;
	type: GgmlType;
	data: Float32Array;
}

parentPort?.on("message", (req: Request) => {
	try {
		const bytes = encodeRows(req.type, req.data);
		parentPort!.postMessage({ id: req.id, bytes }, [bytes.buffer as ArrayBuffer]);
	} catch (err) {
		parentPort!.postMessage({ id: req.id, error: (err as Error).message });
	}
});
