/**
 * The task-vector engine's KernelSet: picked once per job from where the blocks lie, compiled only when every array
 * is in this thread's WebAssembly arena; with LM_MERGE_DEBUG=1 a compiled loop refuses an array outside it.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { kernelSetFor, TYPESCRIPT_KERNELS } from "../../../src/methods/task-vector/kernel-set.js";
import { type Lane, mixerOf } from "../../../src/methods/task-vector/lanes.js";
import { ARENA_INPUTS, wasmArena } from "../../../src/wasm/kernels.js";

const arena = wasmArena();

describe("kernelSetFor", () => {
	test("arrays outside the arena get the TypeScript loops, whose entries all defer to the caller", () => {
		const set = kernelSetFor([new Float32Array(8), new Float32Array(8)]);
		expect(set).toBe(TYPESCRIPT_KERNELS);
		expect(set.compiled).toBe(false);
		expect(set.outputBlock(8)).toBeUndefined();
		expect(set.mixTwo(new Float32Array(8), new Float32Array(8), 0, 8, {} as never)).toBeUndefined();
	});

	test.runIf(arena !== undefined)("arrays in the arena get the compiled loops, one set per arena, writing to its output slot", () => {
		const a = arena!;
		const set = kernelSetFor([a.slots[0]!.subarray(0, 16), a.slots[1]!.subarray(0, 16)]);
		expect(set.compiled).toBe(true);
		expect(kernelSetFor([a.slots[2]!.subarray(0, 4)])).toBe(set);
		const out = set.outputBlock(16)!;
		expect(out.buffer).toBe(a.buffer);
		expect(out.byteOffset).toBe(a.slots[ARENA_INPUTS]!.byteOffset);
		expect(out.length).toBe(16);
		expect(set.contributions[0]).toBe(a.contrib[0]);
	});

	test.runIf(arena !== undefined)("one array outside the arena is enough to pick the TypeScript loops", () => {
		expect(kernelSetFor([arena!.slots[0]!.subarray(0, 16), new Float32Array(16)])).toBe(TYPESCRIPT_KERNELS);
	});
});

describe("LM_MERGE_DEBUG=1", () => {
	afterEach(() => {
		vi.unstubAllEnvs();
		vi.resetModules();
	});

	test.runIf(arena !== undefined)("a compiled loop refuses an array outside the arena; without it the caller is trusted", async () => {
		vi.stubEnv("LM_MERGE_DEBUG", "1");
		vi.resetModules();
		const kernels = await import("../../../src/wasm/kernels.js");
		const { kernelSetFor: pick } = await import("../../../src/methods/task-vector/kernel-set.js");
		const a = kernels.wasmArena()!;
		const set = pick([a.slots[0]!.subarray(0, 4)]);
		expect(set.compiled).toBe(true);
		const lane = { kind: 0, weight: 1 } as unknown as Lane;
		const M = mixerOf([lane, lane], { consensus: false, normalize: false, lambda: 1, divisor: 1 });
		const outside = new Float32Array(4);
		expect(() => set.mixTwo(outside, a.slots[1]!.subarray(0, 4), 0, 4, M)).toThrow(/outside the WebAssembly arena/);
		expect(set.mixTwo(a.slots[0]!.subarray(0, 4), a.slots[1]!.subarray(0, 4), 0, 4, M)).toBe(0);
	});
});
