/**
 * One `--device` vocabulary for every command: a device names hardware (auto, cpu, cuda, vulkan; `gpu` is an alias
 * of cuda and `--cuda` of `--device cuda`, as mergekit users type them). Which implementation runs on it is a
 * separate choice, `--backend`: lm-merge's own kernels (`builtin`, merges only), TensorFlow.js, optionally
 * pinned to one of its engines (`tfjs-wasm`, `tfjs-node`, `tfjs-cpu`), or llama.cpp (`llama`, `merge eval` only). The old spellings
 * (`--device tfjs` for merges; `--device wasm|node` for eval) still work, with a one-line notice.
 */
import { UsageError } from "../errors.js";
import type { HardwareDevice } from "../eval/backends/types.js";
import type { Device } from "../eval/tfjs-backend.js";

export const DEVICES = ["auto", "cpu", "cuda", "vulkan"] as const;
type DeviceName = (typeof DEVICES)[number];

/** Spellings accepted for a device without notice. */
const DEVICE_SYNONYMS: Readonly<Record<string, DeviceName>> = { gpu: "cuda" };

const MERGE_BACKENDS = ["builtin", "tfjs", "tfjs-wasm", "tfjs-node", "tfjs-cpu"] as const;
type MergeBackendName = (typeof MERGE_BACKENDS)[number];
export const EVAL_BACKENDS = ["tfjs", "tfjs-wasm", "tfjs-node", "tfjs-cpu", "llama"] as const;
type EvalBackendName = (typeof EVAL_BACKENDS)[number];

/** The device flags as parsed (strings as typed; validated here, not by yargs, so old spellings get a notice). */
interface DeviceFlags {
	device?: string;
	backend?: string;
	cuda?: boolean;
}

/** Old `--device` values → the flags that mean the same now. */
const DEPRECATED: Readonly<Record<"merge" | "eval", Readonly<Record<string, { backend: string; device?: DeviceName }>>>> = {
	merge: { tfjs: { backend: "tfjs" } },
	eval: { wasm: { backend: "tfjs-wasm", device: "cpu" }, node: { backend: "tfjs-node", device: "cpu" } },
};

const DEVICE_HELP = "auto, cpu, cuda (or gpu) or vulkan";

/** Device and backend from the flags, old spellings translated; `notices` are the deprecation lines to print. */
function readFlags(
	flags: DeviceFlags,
	command: "merge" | "eval",
	backends: readonly string[],
): { device: DeviceName; backend: string | undefined; notices: string[] } {
	const notices: string[] = [];
	let backend = flags.backend;
	let device: DeviceName | undefined;
	const raw = flags.device?.trim().toLowerCase();
	if (raw !== undefined) {
		const old = DEPRECATED[command][raw];
		if (old !== undefined) {
			if (backend !== undefined && backend !== old.backend) {
				throw new UsageError(`--device ${raw} means --backend ${old.backend}, which contradicts --backend ${backend}`);
			}
			backend = old.backend;
			device = old.device;
			notices.push(
				`--device ${raw} is deprecated: use --backend ${old.backend}` +
					`${old.device !== undefined ? ` (--device now names hardware: ${DEVICE_HELP})` : ""}`,
			);
		} else {
			device = DEVICE_SYNONYMS[raw] ?? ((DEVICES as readonly string[]).find((d) => d === raw) as DeviceName | undefined);
			if (device === undefined) throw new UsageError(`--device ${flags.device}: expected ${DEVICE_HELP}`);
		}
	}
	if (flags.cuda === true) {
		if (device !== undefined && device !== "cuda") throw new UsageError(`--cuda contradicts --device ${flags.device}`);
		device = "cuda";
	}
	if (backend !== undefined && !backends.includes(backend)) {
		throw new UsageError(`--backend ${backend}: expected ${backends.slice(0, -1).join(", ")} or ${backends.at(-1)}`);
	}
	return { device: device ?? "auto", backend, notices };
}

/** What a merge runs on: lm-merge's kernels on the CPU, or TensorFlow.js (on the CPU, or CUDA via tfjs-node-gpu). */
export interface MergeDeviceChoice {
	device: "cpu" | "cuda";
	backend: MergeBackendName;
	notices: string[];
}

/**
 * Resolves the merge flags. auto is the CPU (the built-in kernels are the fastest there; a GPU is opt-in with
 * --device cuda). CUDA runs on tfjs-node-gpu, so it needs --backend tfjs (the default there); nothing merges on
 * Vulkan.
 */
export function resolveMergeDevice(flags: DeviceFlags): MergeDeviceChoice {
	const { device, backend, notices } = readFlags(flags, "merge", MERGE_BACKENDS);
	if (device === "vulkan")
		throw new UsageError(
			"--device vulkan: no merge backend runs on Vulkan; use --device cpu, or --device cuda (needs @tensorflow/tfjs-node-gpu)",
		);
	if (device === "cuda") {
		if (backend !== undefined && backend !== "tfjs") {
			throw new UsageError(`--device cuda runs on --backend tfjs (@tensorflow/tfjs-node-gpu), not --backend ${backend}`);
		}
		return { device: "cuda", backend: "tfjs", notices };
	}
	return { device: "cpu", backend: (backend ?? "builtin") as MergeBackendName, notices };
}

/** What `merge eval` runs on: the evaluator backend, the hardware for llama.cpp, the tfjs engine for tfjs. */
interface EvalDeviceChoice {
	backend: "tfjs" | "llama";
	/** llama.cpp: which build runs (auto picks what is present: CUDA, Vulkan, else the CPU). */
	device?: HardwareDevice;
	/** tfjs: the engine (auto is tfjs-node when installed, else wasm; gpu is tfjs-node-gpu). */
	tfjsDevice?: Device;
	notices: string[];
}

/**
 * Resolves the eval flags. `--backend llama` (the default with `--quant`) runs llama.cpp on any device, CUDA and
 * Vulkan included. tfjs runs on the CPU (tfjs-node when installed, else wasm) or CUDA (tfjs-node-gpu); a pinned
 * engine (tfjs-wasm, tfjs-node, tfjs-cpu) runs on the CPU; tfjs has no Vulkan backend.
 */
export function resolveEvalDevice(flags: DeviceFlags, opts: { quant?: boolean } = {}): EvalDeviceChoice {
	const { device, backend, notices } = readFlags(flags, "eval", EVAL_BACKENDS);
	const chosen = (backend ?? (opts.quant === true ? "llama" : "tfjs")) as EvalBackendName;
	if (chosen === "llama") return { backend: "llama", device, notices };
	if (opts.quant === true) throw new UsageError(`--quant needs --backend llama (${chosen} scores the checkpoint as float32)`);
	if (device === "vulkan")
		throw new UsageError(`--device vulkan: tfjs has no Vulkan backend; use --backend llama, or --device cpu or cuda`);
	if (chosen === "tfjs") return { backend: "tfjs", tfjsDevice: device === "cuda" ? "gpu" : "auto", notices };
	if (device === "cuda")
		throw new UsageError(`--backend ${chosen} runs on the CPU; for --device cuda use --backend tfjs (@tensorflow/tfjs-node-gpu) or llama`);
	const engine: Record<Exclude<EvalBackendName, "tfjs" | "llama">, Device> = {
		"tfjs-wasm": "wasm",
		"tfjs-node": "node",
		"tfjs-cpu": "cpu",
	};
	return { backend: "tfjs", tfjsDevice: engine[chosen], notices };
}
