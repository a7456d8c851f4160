import { cpuBackend } from "../backends/cpu.js";
import { createTfjsBackend } from "../backends/tfjs.js";
import type { Backend } from "../backends/types.js";
import type { MergeDeviceChoice } from "./device.js";

/** The kernel backend for a resolved --device / --backend choice (see device.ts). */
export async function selectBackend(choice: Pick<MergeDeviceChoice, "device" | "backend">): Promise<Backend> {
	if (choice.device === "cuda") return createTfjsBackend({ device: "gpu" });
	switch (choice.backend) {
		case "builtin":
			return cpuBackend;
		case "tfjs":
			return createTfjsBackend({ device: "tfjs" });
		case "tfjs-wasm":
			return createTfjsBackend({ device: "tfjs", tfBackend: "wasm" });
		case "tfjs-node":
			return createTfjsBackend({ device: "tfjs", tfBackend: "tensorflow" });
		case "tfjs-cpu":
			return createTfjsBackend({ device: "tfjs", tfBackend: "cpu" });
	}
}
