/**
 * Loads TensorFlow.js with a ready backend. Shared by the merge backend (backends/tfjs.ts) and, through a thin
 * wrapper, by the evaluator: tfjs keeps one global engine, so there should be one place that picks its backend.
 * The native packages (tfjs-node, tfjs-node-gpu) are optional peers, imported by a computed specifier so that
 * neither TypeScript nor the bundler requires them; @tensorflow/tfjs and its wasm backend are regular dependencies.
 */
import { createRequire } from "node:module";
import { dirname } from "node:path";
import type * as TfModule from "@tensorflow/tfjs";
import { ExecError } from "../errors.js";

/** The tfjs namespace (from @tensorflow/tfjs, or tfjs-node's re-export of it). */
export type Tf = typeof TfModule;

/**
 * Which tfjs to load: "cpu" plain JS kernels, "wasm" XNNPACK in WebAssembly, "node" libtensorflow on the CPU,
 * "gpu" libtensorflow with CUDA, "auto" tfjs-node when installed, else wasm, else cpu.
 */
export type TfjsChoice = "auto" | "cpu" | "wasm" | "node" | "gpu";

export const TFJS_CHOICES: readonly TfjsChoice[] = ["auto", "cpu", "wasm", "node", "gpu"];

/** What was loaded: the namespace, the tfjs backend name that is now active, and the package that provides it. */
interface LoadedTfjs {
	tf: Tf;
	backend: string;
	packageName: string;
}

/** Builds the error thrown on failure; callers pick their own error class (ExecError by default). */
export type TfjsErrorFactory = (message: string, cause?: unknown) => Error;

const NODE_PACKAGE = "@tensorflow/tfjs-node";
const GPU_PACKAGE = "@tensorflow/tfjs-node-gpu";

/** The one-line hints shown when an explicitly requested native package is not installed. */
const INSTALL_HINT: Record<"node" | "gpu", string> = {
	node: `--backend tfjs-node needs ${NODE_PACKAGE} (npm install ${NODE_PACKAGE})`,
	gpu: `--device cuda needs ${GPU_PACKAGE} (npm install ${GPU_PACKAGE}; it needs CUDA and cuDNN)`,
};

const execError: TfjsErrorFactory = (message, cause) => new ExecError("Backend", message, { cause });

const require = createRequire(import.meta.url);

/** True when `pkg` resolves from this package (checked before importing, so "absent" and "broken" differ). */
function isInstalled(pkg: string): boolean {
	try {
		require.resolve(pkg);
		return true;
	} catch {
		return false;
	}
}

/** Silences tfjs's "you are running TensorFlow.js in Node.js" banner and its debug-mode checks. */
function quiet(tf: Tf): void {
	tf.env().set("PROD", true);
}

async function activate(tf: Tf, backend: string, packageName: string, fail: TfjsErrorFactory): Promise<LoadedTfjs> {
	let ok = false;
	let cause: unknown;
	try {
		ok = await tf.setBackend(backend);
		await tf.ready();
	} catch (err) {
		cause = err;
	}
	if (!ok || tf.getBackend() !== backend) {
		const why = cause instanceof Error ? `: ${cause.message}` : "";
		throw fail(`tfjs backend "${backend}" (${packageName}) failed to start${why}`, cause);
	}
	return { tf, backend, packageName };
}

/** libtensorflow through tfjs-node(-gpu); the package re-exports the whole tfjs API, so it is the namespace. */
async function loadNative(choice: "node" | "gpu", fail: TfjsErrorFactory): Promise<LoadedTfjs> {
	const pkg: string = choice === "gpu" ? GPU_PACKAGE : NODE_PACKAGE;
	if (!isInstalled(pkg)) throw fail(INSTALL_HINT[choice]);
	let tf: Tf;
	try {
		tf = (await import(pkg)) as Tf;
	} catch (err) {
		throw fail(`${pkg} is installed but failed to load: ${(err as Error).message}`, err);
	}
	quiet(tf);
	return activate(tf, "tensorflow", pkg, fail);
}

/**
 * XNNPACK in WebAssembly. In Node the backend reads its .wasm binaries with fs from the folder given to
 * setWasmPaths, which we point at the package's own dist/ folder. setWasmPaths refuses once the backend has been
 * initialised; the paths are then already set.
 */
async function loadWasm(fail: TfjsErrorFactory): Promise<LoadedTfjs> {
	const tf = (await import("@tensorflow/tfjs")) as Tf;
	quiet(tf);
	const wasm = await import("@tensorflow/tfjs-backend-wasm");
	const distDir = dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
	try {
		wasm.setWasmPaths(`${distDir}/`);
	} catch {
		// Already initialised with these paths (a second backend in the same process).
	}
	return activate(tf, "wasm", "@tensorflow/tfjs-backend-wasm", fail);
}

async function loadCpu(fail: TfjsErrorFactory): Promise<LoadedTfjs> {
	const tf = (await import("@tensorflow/tfjs")) as Tf;
	quiet(tf);
	return activate(tf, "cpu", "@tensorflow/tfjs", fail);
}

/**
 * Returns tfjs with the requested backend active. An explicit choice that cannot start throws (via `fail`,
 * ExecError "Backend" by default) with a one-line reason; "auto" falls back node → wasm → cpu.
 * tfjs has one global engine: the last call decides the active backend for every user in the process.
 */
export async function loadTfjs(choice: TfjsChoice = "auto", fail: TfjsErrorFactory = execError): Promise<LoadedTfjs> {
	switch (choice) {
		case "gpu":
		case "node":
			return loadNative(choice, fail);
		case "wasm":
			return loadWasm(fail);
		case "cpu":
			return loadCpu(fail);
		case "auto":
			if (isInstalled(NODE_PACKAGE)) {
				try {
					return await loadNative("node", fail);
				} catch {
					// A broken native install: fall through to the portable backends.
				}
			}
			try {
				return await loadWasm(fail);
			} catch {
				return loadCpu(fail);
			}
		default:
			throw fail(`unknown tfjs choice ${JSON.stringify(choice)}; use one of ${TFJS_CHOICES.join(", ")}`);
	}
}
