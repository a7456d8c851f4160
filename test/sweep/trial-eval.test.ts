import { describe, expect, test } from "vitest";
import { EvaluationError } from "../../src/errors.js";
import { checkTrialEval, toEvaluateOptions } from "../../src/sweep/trial.js";

describe("a sweep's eval settings", () => {
	test.each([
		[{ backend: "onnx" }, /eval backend onnx is not available/],
		[{ quant: "q8_0" }, /needs backend: llama/],
		[{ backend: "llama", quant: "q3_k" }, /eval quant q3_k: expected one of f32, .*q4_k_m/],
		[{ backend: "llama", device: "wasm" as const }, /eval device wasm is a tfjs engine/],
	])("%j is refused before any merge", (e, message) => {
		const err = (() => {
			try {
				checkTrialEval({ data: "/d", ...e });
			} catch (caught) {
				return caught;
			}
			return undefined;
		})();
		expect(err).toBeInstanceOf(EvaluationError);
		expect((err as Error).message).toMatch(message);
	});

	test("tfjs settings map the device to a tfjs engine and pass no GGUF cache", () => {
		checkTrialEval({ data: "/d", device: "wasm" });
		const o = toEvaluateOptions({ data: "/d", device: "wasm", seeds: 1 }, "/m", "/trial/gguf");
		expect(o).toEqual({ models: ["/m"], data: "/d", includeItems: true, seeds: 1, tfjsDevice: "wasm" });
	});

	test("llama settings name the backend, the weight format, the hardware and the trial's own GGUF folder", () => {
		checkTrialEval({ data: "/d", backend: "llama", quant: "q4_k_m", device: "gpu" });
		const o = toEvaluateOptions({ data: "/d", backend: "llama", quant: "q4_k_m", device: "gpu" }, "/m", "/trial/gguf");
		expect(o).toEqual({
			models: ["/m"],
			data: "/d",
			includeItems: true,
			backend: "llama",
			quant: "q4_k_m",
			device: "cuda",
			cacheDir: "/trial/gguf",
		});
	});
});
