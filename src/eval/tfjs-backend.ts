import { createRequire } from "node:module";
import { dirname } from "node:path";
import type * as TfModule from "@tensorflow/tfjs";
import { EvalError } from "../errors.js";

/** The tfjs namespace the evaluator computes with (from @tensorflow/tfjs, or tfjs-node's re-export of it). */
export type Tf = typeof TfModule;

/**
 * The evaluator's tfjs engine: "cpu" is the plain JS kernels, "wasm" XNNPACK in WebAssembly, "node"/"gpu" libtensorflow
 * (CPU / CUDA), "auto" the first present of node, wasm, cpu. The CLI maps --device and --backend onto it (cli/device.ts).
 */
export type Device = "auto" | "cpu" | "wasm" | "gpu" | "node";

export const DEVICES: readonly Device[] = ["auto", "cpu", "wasm", "gpu", "node"];

/** The optional native packages, imported by name at run time so that nothing requires them. */
const NODE_PACKAGE = "@tensorflow/tfjs-node";
const GPU_PACKAGE = "@tensorflow/tfjs-node-gpu";

/** Install hints for the error raised when an explicitly requested native backend is absent. */
const INSTALL_HINT: Record<"node" | "gpu", string> = {
	node: `install ${NODE_PACKAGE} to use --backend tfjs-node`,
	gpu: `install ${GPU_PACKAGE} (needs CUDA + cuDNN) to use --device cuda`,
};

/** setWasmPaths must run once, before the wasm backend first initialises. */
let wasmPathsSet = false;

function isModuleNotFound(err: unknown): boolean {
	const code = (err as { code?: unknown } | null)?.code;
	return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

/** Silences tfjs's console banners ("looks like you are running TensorFlow.js in Node.js") and debug checks. */
function quiet(tf: Tf): void {
	tf.env().set("PROD", true);
}

async function useBackend(tf: Tf, name: string, device: Device): Promise<Tf> {
	let ok: boolean;
	try {
		ok = await tf.setBackend(name);
		await tf.ready();
	} catch (err) {
		throw new EvalError("Backend", `tfjs engine "${device}": tfjs backend "${name}" failed to start: ${(err as Error).message}`);
	}
	if (!ok || tf.getBackend() !== name) {
		throw new EvalError("Backend", `tfjs engine "${device}": tfjs backend "${name}" failed to start`);
	}
	return tf;
}

/** libtensorflow through tfjs-node(-gpu); the package re-exports the whole tfjs API, so it *is* the namespace. */
async function initNative(device: "node" | "gpu"): Promise<Tf> {
	const pkg: string = device === "gpu" ? GPU_PACKAGE : NODE_PACKAGE;
	let mod: Tf;
	try {
		mod = (await import(pkg)) as Tf;
	} catch (err) {
		if (isModuleNotFound(err) && (err as Error).message.includes(pkg)) throw new EvalError("Backend", INSTALL_HINT[device]);
		throw new EvalError("Backend", `${pkg} is installed but failed to load: ${(err as Error).message}`);
	}
	quiet(mod);
	return useBackend(mod, "tensorflow", device);
}

/**
 * XNNPACK in WebAssembly. In Node the backend reads its .wasm binary with fs from the folder passed to
 * setWasmPaths, which we point at the package's own dist/ folder. Node gets the single-threaded SIMD build:
 * tfjs reports no multithread support under Node (its pthread workers are browser-only), so
 * setThreadsCount has no effect there.
 */
async function initWasm(device: Device): Promise<Tf> {
	const tf = (await import("@tensorflow/tfjs")) as Tf;
	quiet(tf);
	const wasm = await import("@tensorflow/tfjs-backend-wasm");
	if (!wasmPathsSet) {
		const require = createRequire(import.meta.url);
		const distDir = dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
		try {
			wasm.setWasmPaths(`${distDir}/`);
		} catch {
			// setWasmPaths refuses once something else initialised the backend; its paths are then already set.
		}
		wasmPathsSet = true;
	}
	return useBackend(tf, "wasm", device);
}

async function initCpu(device: Device): Promise<Tf> {
	const tf = (await import("@tensorflow/tfjs")) as Tf;
	quiet(tf);
	return useBackend(tf, "cpu", device);
}

/**
 * Returns the tfjs namespace with a ready backend for `device`: "gpu" → tfjs-node-gpu, "node" → tfjs-node
 * (both optional, imported dynamically; absent → EvalError "Backend" with an install hint), "wasm" →
 * @tensorflow/tfjs-backend-wasm, "cpu" → plain tfjs, "auto" → tfjs-node if importable, else wasm, else cpu.
 * tfjs keeps one global engine: the last call decides the backend for everyone.
 */
export async function initTfjs(device: Device = "auto"): Promise<Tf> {
	switch (device) {
		case "gpu":
		case "node":
			return initNative(device);
		case "wasm":
			return initWasm(device);
		case "cpu":
			return initCpu(device);
		case "auto":
			try {
				return await initNative("node");
			} catch {
				try {
					return await initWasm(device);
				} catch {
					return initCpu(device);
				}
			}
		default:
			throw new EvalError("Backend", `unknown device ${JSON.stringify(device)}; use one of ${DEVICES.join(", ")}`);
	}
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
