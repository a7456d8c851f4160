import { describe, expect, test } from "vitest";
import { dellaMethod } from "../../src/methods/della.js";
import { linearMethod } from "../../src/methods/linear.js";
import { slerpMethod } from "../../src/methods/slerp.js";
import type { MergeMethod } from "../../src/methods/types.js";
import { estimatePeakMemory, HOLD_BYTES, jobMemory, PROCESS_OVERHEAD_BYTES } from "../../src/plan/memory.js";
import type { TensorJob } from "../../src/plan/types.js";

/** A bf16 job of `rows × cols` with a base and one other model. */
function job(
	method: MergeMethod,
	rows: number,
	cols: number,
	params: Record<string, number | boolean | string | undefined>,
	modelParams: Record<string, number | boolean | string | undefined>,
): TensorJob {
	const n = rows * cols;
	return {
		output: { name: "w", dtype: "BF16", shape: [rows, cols], byteLength: n * 2 },
		method,
		base: { model: 0, tensor: "w" },
		inputs: [{ model: 1, tensor: "w" }],
		params,
		modelParams: [modelParams],
		t: 0,
		sources: { params: {}, modelParams: [{}] },
		inputBytes: n * 4,
	};
}

describe("jobMemory", () => {
	test(
		"a streamed job needs a few chunks whatever the tensor size: " +
			"the 32000 × 4096 embedding as a 4096 × 4096 projection, plus kernel state",
		() => {
			const small = jobMemory(job(slerpMethod, 4096, 4096, { t: 0.5 }, {}));
			const embedding = jobMemory(job(slerpMethod, 32000, 4096, { t: 0.5 }, {}));
			// Rings of four 8 MB chunks for two inputs and two output chunks, against 0.5 GB of encoded inputs.
			expect(embedding).toBeLessThan(200 * 2 ** 20);
			// Only the per-element kernel state (n / 8 bytes per input) grows with the tensor.
			expect(embedding - small).toBe(2 * Math.ceil(((32000 - 4096) * 4096) / 8));
		},
	);

	test("a tensor below one chunk needs buffers for its own size only", () => {
		const tiny = jobMemory(job(linearMethod, 256, 1024, { normalize: true }, { weight: 0.5 }));
		// 256 Ki elements: rings of 4 × 1 MB inputs, 2 × 0.5 MB output, blocks, state and a 4 MB allowance.
		expect(tiny).toBeLessThan(16 * 2 ** 20);
		expect(tiny).toBeLessThan(jobMemory(job(linearMethod, 4096, 4096, { normalize: true }, { weight: 0.5 })) / 4);
	});

	test("a method without a chunked form reads whole tensors: float32 inputs, result and scratch", () => {
		const n = 4096 * 4096;
		const della = jobMemory(job(dellaMethod, 4096, 4096, { normalize: true, rescale: true }, { weight: 0.5, density: 0.5, epsilon: 0.1 }));
		expect(della).toBeGreaterThanOrEqual(n * 4 * 4);
	});

	test("the peak estimate of a 7B-shaped merge is far below the decoded embedding", () => {
		const jobs = [
			job(slerpMethod, 32000, 4096, { t: 0.5 }, {}),
			job(slerpMethod, 32000, 4096, { t: 0.5 }, {}),
			...Array.from({ length: 96 }, () => job(slerpMethod, 14336, 4096, { t: 0.5 }, {})),
		];
		expect(estimatePeakMemory(jobs, 2)).toBeLessThan(1.5e9);
	});

	test("scanning kernels add each thread's allowance of kept chunks; elementwise ones do not", () => {
		const scanning = [job(slerpMethod, 14336, 4096, { t: 0.5 }, {})];
		const elementwise = [job(linearMethod, 14336, 4096, { normalize: true }, { weight: 0.5 })];
		const withoutHold = (jobs: TensorJob[], threads: number) =>
			estimatePeakMemory(jobs, threads) - (jobs === scanning ? HOLD_BYTES * threads : 0);
		expect(estimatePeakMemory(scanning, 2) - estimatePeakMemory(scanning, 1)).toBeGreaterThan(HOLD_BYTES);
		expect(withoutHold(scanning, 2)).toBe(jobMemory(scanning[0]!) + 2 * PROCESS_OVERHEAD_BYTES);
		expect(estimatePeakMemory(elementwise, 2)).toBe(jobMemory(elementwise[0]!) + 2 * PROCESS_OVERHEAD_BYTES);
	});
});
