import { UsageError, type BackendName, type EvaluateOptions, type HardwareDevice } from "../index.js";
import type { Io } from "./output.js";

/**
 * `merge eval`'s --device / --backend / --cuda, in the project's one vocabulary (issue 12 item 22): a device
 * names hardware (auto, cpu, cuda — alias gpu, and --cuda — or vulkan); --backend names the implementation:
 * tfjs (or one of its engines pinned: tfjs-wasm, tfjs-node, tfjs-cpu) or llama (llama.cpp). `--device wasm|node`
 * still pins a tfjs engine, with a notice. --quant implies llama.
 */

export const EVAL_BACKEND_CHOICES = ["tfjs", "tfjs-wasm", "tfjs-node", "tfjs-cpu", "llama"] as const;

const DEVICE_CHOICES: Readonly<Record<string, HardwareDevice>> = { auto: "auto", cpu: "cpu", cuda: "cuda", gpu: "cuda", vulkan: "vulkan" };
const DEPRECATED_DEVICES: Readonly<Record<string, string>> = { wasm: "tfjs-wasm", node: "tfjs-node" };
const TFJS_ENGINES = { "tfjs-wasm": "wasm", "tfjs-node": "node", "tfjs-cpu": "cpu" } as const;

export interface EvalDeviceFlags {
	device?: string;
	backend?: string;
	cuda?: boolean;
}

/** The evaluate() options the flags select. */
export function resolveEvalBackend(io: Io, flags: EvalDeviceFlags, quantGiven: boolean): Pick<EvaluateOptions, "backend" | "device" | "tfjsDevice"> & { backend: BackendName } {
	let backend = flags.backend?.trim().toLowerCase();
	let raw = flags.device?.trim().toLowerCase();
	const old = raw !== undefined ? DEPRECATED_DEVICES[raw] : undefined;
	if (old !== undefined) {
		if (backend !== undefined && backend !== old) throw new UsageError(`--device ${raw} means --backend ${old}, which contradicts --backend ${backend}`);
		io.err(`warning: --device ${raw} is deprecated: use --backend ${old} (--device now names hardware: auto, cpu, cuda or vulkan)`);
		backend = old;
		raw = "cpu";
	}
	let device = raw !== undefined ? DEVICE_CHOICES[raw] : undefined;
	if (raw !== undefined && device === undefined) throw new UsageError(`--device ${flags.device}: expected auto, cpu, cuda (or gpu) or vulkan`);
	if (flags.cuda === true) {
		if (device !== undefined && device !== "cuda") throw new UsageError(`--cuda contradicts --device ${flags.device}`);
		device = "cuda";
	}
	backend ??= quantGiven ? "llama" : "tfjs";
	if (!(EVAL_BACKEND_CHOICES as readonly string[]).includes(backend)) {
		throw new UsageError(`--backend ${flags.backend}: expected ${EVAL_BACKEND_CHOICES.join(", ")}`);
	}
	if (backend === "llama") return { backend: "llama", ...(device !== undefined ? { device } : {}) };
	if (quantGiven) throw new UsageError(`--quant needs --backend llama (${backend} scores the checkpoint as float32)`);
	if (device === "vulkan") throw new UsageError(`--device vulkan: tfjs has no Vulkan backend; use --backend llama`);
	const engine = TFJS_ENGINES[backend as keyof typeof TFJS_ENGINES];
	if (engine !== undefined) {
		if (device === "cuda") throw new UsageError(`--backend ${backend} runs on the CPU; for --device cuda use --backend tfjs (@tensorflow/tfjs-node-gpu) or llama`);
		return { backend: "tfjs", tfjsDevice: engine };
	}
	return { backend: "tfjs", ...(device !== undefined ? { device } : {}) };
}
