import { describe, expect, it } from "vitest";
import { benchTensors, CaseEnv, kernelCases, modeRun, modesOf } from "../../bench/kernel-cases.js";
import { alignBlock, runStreamed } from "../../bench/kernel-streamed.js";
import { chunkedFormOf } from "../../src/methods/chunked.js";

/** Not a multiple of the block, so the last block is partial. */
const N = 5000;
const BLOCK = 1024;

const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe("runStreamed", () => {
	const env = new CaseEnv(benchTensors(N), N);
	const cases = kernelCases(env.data, N);
	const pick = (label: string, models: number) => cases.find((c) => c.label === label && c.models === models)!;

	it.each([
		["slerp", 1],
		["ties", 1],
		["ties", 2],
		["dare_ties (rescale=true)", 2],
		["dare_ties (rescale=inverse_density)", 1],
	])("%s with %d model(s) gives method.merge's bytes, inputs untouched", (label, models) => {
		const c = pick(label, models);
		const spec = c.method!;
		const base = env.data.base;
		const inputs = [env.data.m1, env.data.m2].slice(0, models);
		const before = [base, ...inputs].map((a) => a.slice());
		const want = spec.m.merge(
			{ tensorName: "bench", shape: [N], base, models: inputs, params: spec.params, modelParams: spec.modelParams },
			env.ctx,
		);
		const form = chunkedFormOf(spec.m, spec.params, spec.modelParams)!;
		const tensor = { tensorName: "bench", shape: [N], params: spec.params, modelParams: spec.modelParams, base, models: inputs };
		for (const block of [BLOCK, 3 * BLOCK, 1 << 16]) {
			const out = runStreamed(form, tensor, env.ctx, new Float32Array(N), block);
			expect(bytes(out)).toEqual(bytes(want));
		}
		[base, ...inputs].forEach((a, i) => {
			expect(bytes(a)).toEqual(bytes(before[i]!));
		});
	});

	it("rounds block sizes to CHUNK_ALIGN multiples, at least one", () => {
		expect(alignBlock(1)).toBe(1024);
		expect(alignBlock(3000)).toBe(2048);
		expect(alignBlock(1 << 16)).toBe(1 << 16);
	});
});

describe("modeRun", () => {
	const env = new CaseEnv(benchTensors(N), N);
	const cases = kernelCases(env.data, N);

	it("gives every method case copy, in-place and streamed rows, and DELLA no streamed form", () => {
		const della = cases.find((c) => c.label === "della")!;
		expect(modesOf(della)).toEqual(["copy", "in place", "streamed"]);
		expect(modeRun(della, "streamed", env)).toBeUndefined();
		expect(modesOf(cases.find((c) => c.label === "topKAbsMask")!)).toEqual(["raw"]);
	});

	it("streamed and in-place slerp agree with the copy", () => {
		const slerp = cases.find((c) => c.label === "slerp")!;
		const copy = modeRun(slerp, "copy", env)!.run() as Float32Array;
		const inPlace = modeRun(slerp, "in place", env)!;
		inPlace.prepare!();
		const fromInPlace = (inPlace.run() as Float32Array).slice();
		const streamed = modeRun(slerp, "streamed", env)!.run() as Float32Array;
		expect(Array.from(fromInPlace)).toEqual(Array.from(copy));
		expect(Array.from(streamed)).toEqual(Array.from(copy));
	});
});
