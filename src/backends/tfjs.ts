/**
 * The tfjs merge backend (`--backend tfjs` / `--device cuda`): the same methods as tfjs kernels. Thin glue in the
 * tfjs op / kernel / backend sense: TFJS_KERNELS maps a built-in method to its tfjs kernel, every other method
 * (and every input a kernel declines) runs the method's own CPU kernel, so the backend is correct for any method.
 * Random draws and exact k-th selections still come from the CPU helpers: `--device` never changes a DARE mask.
 */
import { ExecError } from "../errors.js";
import { linearMethod } from "../methods/linear.js";
import { modelStockMethod } from "../methods/model-stock.js";
import { nearswapMethod } from "../methods/nearswap.js";
import { passthroughMethod } from "../methods/passthrough.js";
import { ramMethod, ramplusTlMethod } from "../methods/ram.js";
import { BUILTIN_METHODS } from "../methods/registry.js";
import { slerpMethod } from "../methods/slerp.js";
import { taskArithmeticConfigOf } from "../methods/task-vector/index.js";
import type { MergeMethod } from "../methods/types.js";
import { loadTfjs, type TfjsChoice } from "../tfjs/loader.js";
import type { TfjsEnv, TfjsInput, TfjsKernel } from "./tfjs-env.js";
import { linearKernel, modelStockKernel, nearswapKernel, passthroughKernel, slerpKernel } from "./tfjs-kernels.js";
import { ramKernel, ramplusTlKernel } from "./tfjs-ram.js";
import { tfjsTaskVectorKernel } from "./tfjs-task-vectors.js";
import type { Backend } from "./types.js";

export type { TfjsEnv, TfjsInput, TfjsKernel } from "./tfjs-env.js";

/**
 * Elements per tfjs upload: 4 Mi float32 = 16 MiB per buffer. It bounds the wasm heap (at most 4 GiB, shared by
 * every live buffer) to a few dozen MiB per merge of a handful of models, whatever the tensor size, keeps 0/1 counts
 * summed in float32 exact (< 2^24), and is large enough that the per-chunk dispatch cost is negligible.
 */
const DEFAULT_TFJS_CHUNK_ELEMENTS = 1 << 22;

/**
 * How closely tfjs results match the CPU kernels: |tfjs − cpu| ≤ atol + rtol·|cpu| per element. tfjs computes in
 * float32 and rounds after every op, the CPU kernels accumulate in float64 and round once, so an element differs by
 * a few float32 ulps (2^-23 ≈ 1.2e-7 relative each); norms and rescale factors summed in float32 within a chunk add
 * about 1e-6 relative. rtol leaves a margin above that; atol covers results that cancel to near zero.
 */
export const TFJS_TOLERANCE = Object.freeze({ atol: 1e-6, rtol: 1e-5 });

/** A tfjs kernel and the built-in method object it implements (a custom method with the same name is not it). */
interface TfjsKernelEntry {
	readonly method: MergeMethod;
	readonly kernel: TfjsKernel;
}

const ENTRIES: readonly TfjsKernelEntry[] = [
	{ method: linearMethod, kernel: linearKernel },
	{ method: slerpMethod, kernel: slerpKernel },
	{ method: passthroughMethod, kernel: passthroughKernel },
	{ method: nearswapMethod, kernel: nearswapKernel },
	{ method: ramMethod, kernel: ramKernel },
	{ method: ramplusTlMethod, kernel: ramplusTlKernel },
	{ method: modelStockMethod, kernel: modelStockKernel },
	// Every method the task-vector engine configures runs on its one tfjs kernel: read from the registry, so a new
	// engine method needs no second list here.
	...BUILTIN_METHODS.flatMap((method) => {
		const config = taskArithmeticConfigOf(method);
		return config === undefined ? [] : [{ method, kernel: tfjsTaskVectorKernel(config) }];
	}),
];

/** Method name → tfjs kernel. Methods not listed run their CPU kernel on this backend. */
export const TFJS_KERNELS: ReadonlyMap<string, TfjsKernelEntry> = new Map(ENTRIES.map((e) => [e.method.name, e]));

/** Options of {@link createTfjsBackend}. */
export interface TfjsBackendOptions {
	/** "tfjs": whatever tfjs backend is present (tfjs-node, else wasm, else cpu); "gpu": tfjs-node-gpu. */
	device: "tfjs" | "gpu";
	/** Pin the tfjs backend: "cpu" (plain JS), "wasm" (XNNPACK) or "tensorflow" (tfjs-node, or tfjs-node-gpu). */
	tfBackend?: "cpu" | "wasm" | "tensorflow";
	/** Elements per upload; default DEFAULT_TFJS_CHUNK_ELEMENTS. */
	chunkElements?: number;
}

function choiceFor(opts: TfjsBackendOptions): TfjsChoice {
	if (opts.device === "gpu") {
		if (opts.tfBackend !== undefined && opts.tfBackend !== "tensorflow") {
			throw new ExecError("Backend", `--device cuda runs on tfjs's "tensorflow" backend, not "${opts.tfBackend}"`);
		}
		return "gpu";
	}
	if (opts.device !== "tfjs") throw new ExecError("Backend", `unknown tfjs device ${JSON.stringify(opts.device)}; use "tfjs" or "gpu"`);
	switch (opts.tfBackend) {
		case undefined:
			return "auto";
		case "tensorflow":
			return "node";
		case "cpu":
		case "wasm":
			return opts.tfBackend;
		default:
			throw new ExecError("Backend", `unknown tfjs backend ${JSON.stringify(opts.tfBackend)}; use cpu, wasm or tensorflow`);
	}
}

/**
 * Loads tfjs for `opts` and returns a Backend whose `description` names the tfjs backend that actually runs, e.g.
 * "tfjs (wasm, @tensorflow/tfjs-backend-wasm)". Throws ExecError "Backend" when the requested tfjs cannot start
 * (for "gpu": tfjs-node-gpu absent, with the install hint).
 */
export async function createTfjsBackend(opts: TfjsBackendOptions): Promise<Backend> {
	const chunkElements = opts.chunkElements ?? DEFAULT_TFJS_CHUNK_ELEMENTS;
	if (!Number.isSafeInteger(chunkElements) || chunkElements < 1) {
		throw new ExecError("Backend", `tfjs chunkElements must be a positive integer, got ${chunkElements}`);
	}
	const { tf, backend, packageName } = await loadTfjs(choiceFor(opts));
	const env: TfjsEnv = { tf, chunkElements };
	return {
		name: "tfjs",
		description: `tfjs${opts.device === "gpu" ? " gpu" : ""} (${backend}, ${packageName})`,
		async run(method, input, ctx) {
			const entry = TFJS_KERNELS.get(method.name);
			if (entry === undefined || entry.method !== method) return method.merge(input, ctx);
			// tfjs has one global engine; another user (the evaluator, a second backend) may have switched it.
			if (tf.getBackend() !== backend) await tf.setBackend(backend);
			if (tf.getBackend() !== backend) {
				throw new ExecError("Backend", `tfjs backend "${backend}" could not be re-activated (now "${tf.getBackend()}")`);
			}
			return entry.kernel(env, input as unknown as TfjsInput, ctx, method) ?? method.merge(input, ctx);
		},
	};
}
