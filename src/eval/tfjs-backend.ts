import { EvaluationError } from "../errors.js";
import { loadTfjs, TFJS_CHOICES, type Tf, type TfjsChoice, type TfjsErrorFactory } from "../tfjs/loader.js";

export type { Tf };

/**
 * The evaluator's tfjs engine: "cpu" is the plain JS kernels, "wasm" XNNPACK in WebAssembly, "node"/"gpu" libtensorflow
 * (CPU / CUDA), "auto" the first present of node, wasm, cpu. The CLI maps --device and --backend onto it (cli/device.ts).
 */
export type Device = TfjsChoice;

export const DEVICES: readonly Device[] = TFJS_CHOICES;

const evalError: TfjsErrorFactory = (message) => new EvaluationError("Backend", message);

/**
 * Returns the tfjs namespace with a ready backend for `device`, through the one tfjs loader (src/tfjs/loader.ts,
 * shared with the merge backends): "gpu" → tfjs-node-gpu, "node" → tfjs-node (both optional; absent → EvaluationError
 * "Backend" with an install hint), "wasm" → @tensorflow/tfjs-backend-wasm, "cpu" → plain tfjs, "auto" → tfjs-node
 * when installed, else wasm, else cpu. Node gets wasm's single-threaded SIMD build: tfjs reports no multithread
 * support under Node (its pthread workers are browser-only). tfjs keeps one global engine: the last call decides
 * the backend for everyone.
 */
export async function initTfjs(device: Device = "auto"): Promise<Tf> {
	return (await loadTfjs(device, evalError)).tf;
}

/** The active backend for logs and reports, e.g. "wasm (SIMD, 1 thread)" or "tensorflow". */
export async function describeBackend(tf: Tf): Promise<string> {
	const name = tf.getBackend();
	if (name !== "wasm") return name;
	const simd = (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) === true;
	const { getThreadsCount } = await import("@tensorflow/tfjs-backend-wasm");
	const threads = getThreadsCount();
	return `wasm (${simd ? "SIMD" : "no SIMD"}, ${threads} thread${threads === 1 ? "" : "s"})`;
}
