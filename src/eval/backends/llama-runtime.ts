import { EvaluationError } from "../../errors.js";
import type { HardwareDevice } from "./types.js";

/**
 * node-llama-cpp, loaded on first use. It is a regular dependency with CPU binaries; the GPU builds are
 * separate npm packages (see docs/evaluator.md). Nothing here prints: llama.cpp's own log lines are kept
 * (the last few) to explain a failure in one line.
 */

type NodeLlamaCpp = typeof import("node-llama-cpp");
export type Llama = Awaited<ReturnType<NodeLlamaCpp["getLlama"]>>;

/** The exact package version the project pins (newer releases may break `npm ci` offline). */
export const NODE_LLAMA_CPP_VERSION = "3.21.1";

/** llama.cpp log lines kept for error messages. */
const LOG_LINES = 20;
const recentLog: string[] = [];

/** The last llama.cpp warnings and errors, joined on one line. */
export function llamaLogTail(): string {
	return recentLog.slice(-3).join(" | ");
}

let module: Promise<NodeLlamaCpp> | undefined;
const instances = new Map<string, Promise<Llama>>();

/** The node-llama-cpp module, or EvaluationError "Backend" saying how to install it. */
async function nodeLlamaCpp(): Promise<NodeLlamaCpp> {
	module ??= import("node-llama-cpp").catch((err: unknown) => {
		module = undefined;
		const code = (err as { code?: string }).code;
		if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
			throw new EvaluationError(
				"Backend",
				`the llama backend needs node-llama-cpp, which is not installed: npm install --save-exact node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`,
			);
		}
		throw new EvaluationError("Backend", `node-llama-cpp failed to load: ${(err as Error).message}`);
	});
	return module;
}

/** node-llama-cpp's `gpu` option for a hardware device. */
function gpuOption(device: HardwareDevice): "auto" | "cuda" | "vulkan" | false {
	return device === "cpu" ? false : device;
}

/**
 * The Llama instance for `device` (one per device and process: it loads the native binary once). A device that
 * cannot be used (no CUDA/Vulkan binaries or no such GPU) is EvaluationError "Backend" naming the package to install.
 */
export async function llamaFor(device: HardwareDevice): Promise<Llama> {
	let p = instances.get(device);
	if (p === undefined) {
		p = (async () => {
			const { getLlama } = await nodeLlamaCpp();
			try {
				return await getLlama({
					gpu: gpuOption(device),
					build: "never",
					progressLogs: false,
					logLevel: "warn" as never,
					logger: (_level, message) => {
						recentLog.push(message.trim());
						if (recentLog.length > LOG_LINES) recentLog.shift();
					},
				});
			} catch (err) {
				const pkg = (flavour: string): string =>
					`@node-llama-cpp/${process.platform === "win32" ? "win" : process.platform}-${process.arch}-${flavour}@${NODE_LLAMA_CPP_VERSION}`;
				const packages = device === "cuda" ? `${pkg("cuda")} ${pkg("cuda-ext")}` : pkg("vulkan");
				const hint =
					device === "cuda" || device === "vulkan"
						? `; install the prebuilt binaries with npm install --no-save ${packages} (docs/gguf.md) ` +
							`and check the ${device === "cuda" ? "NVIDIA" : "Vulkan"} driver`
						: "";
				throw new EvaluationError(
					"Backend",
					`--device ${device}: llama.cpp could not start: ${(err as Error).message.split("\n")[0]}${hint}`,
				);
			}
		})();
		p.catch(() => instances.delete(device));
		instances.set(device, p);
	}
	return p;
}

/** "cpu", "cuda", "vulkan" or "metal": what a Llama instance computes on. */
export function deviceOf(llama: Llama, gpuLayers: number): string {
	return llama.gpu === false || gpuLayers === 0 ? "cpu" : llama.gpu;
}
