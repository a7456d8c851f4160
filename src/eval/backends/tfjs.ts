import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { EvaluationError } from "../../errors.js";
import { loadEvalModel } from "../eval-model.js";
import { type Device, describeBackend, initTfjs } from "../tfjs-backend.js";
import type { BackendLoadOptions, ForwardBackend, HardwareDevice } from "./types.js";

/**
 * The tfjs backend: lm-merge's own forward pass (eval-model.ts), float32 throughout and checked against a
 * float64 reference in the tests. It reads safetensors directly (no conversion) and is the route to
 * tfjs-node-gpu; `llama.ts` is the fast one.
 */

/** The tfjs implementation a hardware device maps to ("cpu": libtensorflow when installed, else wasm). */
async function tfjsDeviceFor(device: HardwareDevice): Promise<Device> {
	switch (device) {
		case "auto":
			return "auto";
		case "cuda":
			return "gpu";
		case "vulkan":
			throw new EvaluationError("Backend", "--device vulkan: tfjs has no Vulkan backend; use --backend llama");
		case "cpu":
			try {
				await initTfjs("node");
				return "node";
			} catch {
				return "wasm";
			}
	}
}

/** Bytes of the weight files in a model folder (or the file itself). */
async function weightBytes(path: string): Promise<number> {
	const s = await stat(path);
	if (!s.isDirectory()) return s.size;
	let total = 0;
	for (const name of await readdir(path)) {
		if (name.endsWith(".safetensors")) total += (await stat(join(path, name))).size;
	}
	return total;
}

export async function loadTfjsBackend(model: string, opts: BackendLoadOptions): Promise<ForwardBackend> {
	if (opts.quant !== undefined && opts.quant !== "f32") {
		throw new EvaluationError(
			"Config",
			`--quant ${opts.quant}: the tfjs backend scores the checkpoint as float32; quantized variants need --backend llama`,
		);
	}
	if (model.endsWith(".gguf"))
		throw new EvaluationError("Config", `${model}: the tfjs backend reads safetensors folders; score a .gguf with --backend llama`);
	const tfjsDevice = opts.tfjsDevice ?? (await tfjsDeviceFor(opts.device ?? "auto"));
	const m = await loadEvalModel(model, { device: tfjsDevice, ...(opts.streaming !== undefined ? { streaming: opts.streaming } : {}) });
	const detail = `tfjs ${await describeBackend(await initTfjs(tfjsDevice))}${m.streaming ? ", layer streaming" : ""}`;
	const batch = opts.batch;
	return {
		info: {
			backend: "tfjs",
			device: tfjsDevice === "gpu" ? "cuda" : "cpu",
			detail,
			quant: "float32",
			weights: model,
			weightBytes: await weightBytes(model),
		},
		vocabSize: m.config.vocab,
		maxTokens: opts.maxTokens ?? m.config.maxPositions ?? Number.MAX_SAFE_INTEGER,
		logprobs: (requests, o) =>
			m.logprobsAt(requests, {
				onResult: o.onResult,
				...(o.sharedPrefix !== undefined ? { sharedPrefix: o.sharedPrefix } : {}),
				...(o.signal !== undefined ? { signal: o.signal } : {}),
				...(batch !== undefined ? { batchSize: batch } : {}),
			}),
		dispose: () => m.dispose(),
	};
}
