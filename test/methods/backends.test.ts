/**
 * One table, every backend: each registered method (plus every method with a tfjs kernel) runs on the CPU backend
 * and on tfjs, and the results must agree within TFJS_TOLERANCE, with no NaN and identical DARE/DELLA masks.
 * tfjs runs on its "cpu" backend (fast), on "wasm" (must start: a failure here is a test failure, never a skip),
 * and on "cpu" with tiny chunks so the chunked reductions are exercised.
 */
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { cpuBackend } from "../../src/backends/cpu.js";
import { createTfjsBackend, TFJS_KERNELS, TFJS_TOLERANCE, type TfjsBackendOptions } from "../../src/backends/tfjs.js";
import { float32AtMost } from "../../src/backends/tfjs-env.js";
import type { Backend } from "../../src/backends/types.js";
import { ExecError, MethodError } from "../../src/errors.js";
import { defineMethod } from "../../src/methods/define.js";
import { BUILTIN_METHODS } from "../../src/methods/registry.js";
import type { MergeContext, MergeInput, MergeMethod } from "../../src/methods/types.js";
import { rngKey, uniformAt } from "../../src/tensor/rng.js";
import { mergeContext } from "../helpers/context.js";

const SEED = 42;
/** 2-D so that row-wise methods (della ranks along dim 1, row-wise slerps) see real rows: 2048 elements. */
const SHAPE = [32, 64] as const;
const N = SHAPE[0] * SHAPE[1];

const ctxFor = (tensorName: string): MergeContext => mergeContext(SEED, tensorName);

/** Deterministic data: base ~ U(−0.1, 0.1); each model changes 3/4 of the entries by U(−0.02, 0.02), copies the rest. */
function tensors(count: number, withBase: boolean): { base: Float32Array; models: Float32Array[] } {
	const key = rngKey(7, "backends.test", 0);
	const base = new Float32Array(N).map((_, i) => (uniformAt(key, i) - 0.5) * 0.2);
	const models = Array.from({ length: count }, (_, m) => {
		const k = rngKey(7, "backends.test", m + 1);
		return base.map((b, i) => (uniformAt(k, 2 * i) < 0.75 ? b + (uniformAt(k, 2 * i + 1) - 0.5) * 0.04 : b));
	});
	return { base: withBase ? base : new Float32Array(0), models };
}

/** Values for parameters without a default (or to move off the default); per model where it is a per-model param. */
const GLOBAL_VALUES: Record<string, unknown> = { t: 0.3 };
const MODEL_VALUES: Record<string, readonly unknown[]> = {
	weight: [0.6, 0.4, 0.3],
	density: [0.5, 0.7, 0.6],
	gamma: [0.05, 0.1, 0.02],
	epsilon: [0.1, 0.2, 0.15],
	scale: [0.5],
};
/** Method-specific values where the generic ones do not fit the method's meaning. */
const METHOD_VALUES: Record<string, Record<string, unknown>> = { nearswap: { t: 0.01 } };

interface Case {
	label: string;
	method: MergeMethod;
	input: MergeInput<Record<string, unknown>, Record<string, unknown>>;
}

/** A realistic input for `method`: 2 models where allowed, base when used, every parameter resolved. */
function caseFor(method: MergeMethod, overrides: Record<string, unknown> = {}, modelCount = 2, elementOffset?: number): Case {
	const count = Math.min(Math.max(modelCount, method.minModels), method.maxModels);
	const withBase = method.base !== "none";
	const { base, models } = tensors(count, withBase);
	const params: Record<string, unknown> = {};
	for (const [key, def] of Object.entries(method.params)) {
		const value = overrides[key] ?? METHOD_VALUES[method.name]?.[key] ?? (def.default !== undefined ? def.default : GLOBAL_VALUES[key]);
		if (value === undefined && def.required === true) throw new Error(`backends.test: give ${method.name}.${key} a value in GLOBAL_VALUES`);
		if (value !== undefined) params[key] = value;
	}
	const modelParams = models.map((_, m) => {
		const mp: Record<string, unknown> = {};
		for (const [key, def] of Object.entries(method.modelParams)) {
			const value = MODEL_VALUES[key]?.[m] ?? def.default;
			if (value === undefined && def.required === true)
				throw new Error(`backends.test: give ${method.name} model param ${key} a value in MODEL_VALUES`);
			if (value !== undefined) mp[key] = value;
		}
		return mp;
	});
	const extra = Object.entries(overrides).map(([k, v]) => `${k}=${String(v)}`);
	if (modelCount !== 2) extra.push(`${count} models`);
	if (elementOffset !== undefined) extra.push(`offset ${elementOffset}`);
	return {
		label: [method.name, ...extra].join(" "),
		method,
		input: {
			tensorName: `model.layers.0.${method.name}.weight`,
			shape: SHAPE,
			base: withBase ? base : undefined,
			models,
			params,
			modelParams,
			...(elementOffset !== undefined ? { elementOffset } : {}),
		},
	};
}

const byName = new Map<string, MergeMethod>();
for (const m of [...BUILTIN_METHODS, ...[...TFJS_KERNELS.values()].map((e) => e.method)]) byName.set(m.name, m);
const method = (name: string): MergeMethod => {
	const found = byName.get(name);
	if (found === undefined) throw new Error(`backends.test: no method "${name}"`);
	return found;
};

const CASES: Case[] = [
	...[...byName.values()].map((m) => caseFor(m)),
	caseFor(method("linear"), { normalize: false }),
	caseFor(method("model_stock"), {}, 3),
	caseFor(method("model_stock"), { filter_wise: true }),
	caseFor(method("slerp"), { t: 0 }),
	caseFor(method("slerp"), { t: 1 }),
	caseFor(method("ties"), { normalize: false, lambda: 0.8 }),
	caseFor(method("ties"), {}, 3),
	caseFor(method("dare_ties"), { rescale: "inverse_density" }),
	caseFor(method("dare_linear"), { rescale: false }, 2, 4096),
	caseFor(method("dare_linear"), { normalize: true }, 3),
	caseFor(method("breadcrumbs"), { rescale: true }),
	caseFor(method("della_linear"), { normalize: true, rescale: false }),
];

interface Agreement {
	maxDiff: number;
	index: number;
	/** Index of the first element outside the tolerance, -1 when all agree. */
	firstBad: number;
}

/** llm.c check_tensor: the largest |actual − expected|, where it is, and the first element beyond atol + rtol·|e|. */
function agreement(actual: Float32Array, expected: Float32Array): Agreement {
	let maxDiff = 0;
	let index = -1;
	let firstBad = -1;
	for (let i = 0; i < expected.length; i++) {
		const diff = Math.abs(actual[i]! - expected[i]!);
		if (!(diff <= maxDiff)) {
			maxDiff = diff;
			index = i;
		}
		if (firstBad < 0 && !(diff <= TFJS_TOLERANCE.atol + TFJS_TOLERANCE.rtol * Math.abs(expected[i]!))) firstBad = i;
	}
	return { maxDiff, index, firstBad };
}

/** Indices that differ from the base: the entries some model's kept task vector moved. */
function movedPositions(out: Float32Array, base: Float32Array): number[] {
	const moved: number[] = [];
	for (let i = 0; i < out.length; i++) if (out[i] !== base[i]) moved.push(i);
	return moved;
}

const BACKENDS: { label: string; options: TfjsBackendOptions; tfBackend: string }[] = [
	{ label: "tfjs cpu", options: { device: "tfjs", tfBackend: "cpu" }, tfBackend: "cpu" },
	{ label: "tfjs wasm", options: { device: "tfjs", tfBackend: "wasm" }, tfBackend: "wasm" },
	{ label: "tfjs cpu, 700-element chunks", options: { device: "tfjs", tfBackend: "cpu", chunkElements: 700 }, tfBackend: "cpu" },
];

describe.each(BACKENDS)("$label agrees with the cpu backend", ({ label, options, tfBackend }) => {
	let backend: Backend;
	const summary: string[] = [];
	beforeAll(async () => {
		backend = await createTfjsBackend(options);
	});
	afterAll(() => {
		if (summary.length > 0) console.info(`${label}:\n  ${summary.join("\n  ")}`);
	});

	test("description names the tfjs backend that runs", () => {
		expect(backend.name).toBe("tfjs");
		expect(backend.description).toContain(`(${tfBackend},`);
	});

	test.each(CASES)("$label", async ({ label: caseLabel, method: m, input }) => {
		const ctx = ctxFor(input.tensorName);
		const expected = await cpuBackend.run(m, input, ctx);
		const tensorsBefore = tf.memory().numTensors;
		const actual = await backend.run(m, input, ctx);
		expect(tf.getBackend()).toBe(tfBackend);
		expect(tf.memory().numTensors, "tfjs tensors leaked").toBe(tensorsBefore);
		expect(actual).toBeInstanceOf(Float32Array);
		expect(actual.length).toBe(expected.length);
		expect(
			actual.findIndex((v) => Number.isNaN(v)),
			"index of a NaN",
		).toBe(-1);
		const { maxDiff, index, firstBad } = agreement(actual, expected);
		const where =
			index < 0 ? "maxdiff 0" : `maxdiff ${maxDiff.toExponential(2)} at [${index}] (tfjs ${actual[index]} vs cpu ${expected[index]})`;
		expect(firstBad, `${caseLabel}: ${where}; first element beyond tolerance: ${firstBad}`).toBe(-1);
		const kernel = TFJS_KERNELS.get(m.name)?.method === m ? "tfjs table" : "cpu only  ";
		summary.push(`${caseLabel.padEnd(44)} ${kernel}: OK, ${where}`);
		if (m.random === true && input.base !== undefined) {
			expect(movedPositions(actual, input.base)).toEqual(movedPositions(expected, input.base));
		}
	});
});

describe("tfjs backend behaviour", () => {
	test("the tfjs table covers the seven own kernels and every task-vector engine method, nothing else", () => {
		expect([...TFJS_KERNELS.keys()].sort()).toEqual(
			[
				"linear",
				"slerp",
				"passthrough",
				"nearswap",
				"ram",
				"ramplus_tl",
				"model_stock",
				"task_arithmetic",
				"ties",
				"dare_ties",
				"dare_linear",
				"breadcrumbs",
				"breadcrumbs_ties",
				"della",
				"della_linear",
			].sort(),
		);
	});

	let backend: Backend;
	beforeAll(async () => {
		backend = await createTfjsBackend({ device: "tfjs", tfBackend: "cpu" });
	});

	test("a method without a tfjs kernel runs its own CPU kernel", async () => {
		const double = defineMethod({
			name: "double_it",
			prettyName: "Double",
			description: "2x",
			base: "none",
			params: {},
			modelParams: {},
			merge: ({ models }) => models[0]!.map((v) => 2 * v),
		});
		const input = { tensorName: "w", shape: [3], base: undefined, models: [new Float32Array([1, 2, 3])], params: {}, modelParams: [{}] };
		expect(await backend.run(double, input, ctxFor("w"))).toEqual(new Float32Array([2, 4, 6]));
	});

	test("a custom method named like a built-in is not replaced by the built-in's tfjs kernel", async () => {
		const custom: MergeMethod = defineMethod({
			name: "linear",
			prettyName: "Not the built-in linear",
			description: "fills 7",
			base: "none",
			params: {},
			modelParams: {},
			merge: ({ models }) => new Float32Array(models[0]!.length).fill(7),
		});
		const { input } = caseFor(method("linear"));
		expect(await backend.run(custom, input, ctxFor(input.tensorName))).toEqual(new Float32Array(N).fill(7));
	});

	test("invalid parameters raise the CPU kernel's MethodError", async () => {
		const zeroSum = caseFor(method("linear"));
		zeroSum.input.modelParams = [{ weight: 1 }, { weight: -1 }];
		await expect(backend.run(zeroSum.method, zeroSum.input, ctxFor("w"))).rejects.toMatchObject({ kind: "InvalidParameter" });
		const noneKept = caseFor(method("ties"));
		noneKept.input.modelParams = [
			{ weight: 1, density: 0 },
			{ weight: 1, density: 0 },
		];
		const err = await backend.run(noneKept.method, noneKept.input, ctxFor("w")).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(MethodError);
		expect((err as MethodError).kind).toBe("InvalidParameter");
	});

	test("slerp at t = 0 and t = 1 returns the inputs bit for bit", async () => {
		for (const t of [0, 1]) {
			const { input } = caseFor(method("slerp"), { t });
			expect(await backend.run(method("slerp"), input, ctxFor("w"))).toEqual(t === 0 ? input.base : input.models[0]);
		}
	});

	test("switches tfjs's global backend back when someone else changed it", async () => {
		await tf.setBackend("wasm");
		const { method: m, input } = caseFor(method("task_arithmetic"));
		await backend.run(m, input, ctxFor(input.tensorName));
		expect(tf.getBackend()).toBe("cpu");
	});
});

describe("createTfjsBackend", () => {
	const gpuInstalled = (() => {
		try {
			createRequire(import.meta.url).resolve("@tensorflow/tfjs-node-gpu");
			return true;
		} catch {
			return false;
		}
	})();

	const gpuCase = gpuInstalled ? "loads tfjs-node-gpu" : "without tfjs-node-gpu is ExecError Backend naming the package";
	test(`--device gpu ${gpuCase}`, async () => {
		const result = await createTfjsBackend({ device: "gpu" }).catch((e: unknown) => e);
		if (gpuInstalled) {
			expect((result as Backend).description).toContain("tensorflow");
		} else {
			expect(result).toBeInstanceOf(ExecError);
			expect((result as ExecError).kind).toBe("Backend");
			expect((result as ExecError).message).toContain("@tensorflow/tfjs-node-gpu");
		}
	});

	test("gpu with a non-tensorflow tfjs backend and bad chunk sizes are ExecError Backend", async () => {
		await expect(createTfjsBackend({ device: "gpu", tfBackend: "wasm" })).rejects.toMatchObject({ kind: "Backend" });
		await expect(createTfjsBackend({ device: "tfjs", tfBackend: "cpu", chunkElements: 0 })).rejects.toMatchObject({ kind: "Backend" });
	});

	test("--device tfjs without a pinned backend picks one that is present", async () => {
		const backend = await createTfjsBackend({ device: "tfjs" });
		expect(backend.description).toMatch(/^tfjs \((tensorflow|wasm|cpu), @tensorflow\//);
	});
});

describe("float32AtMost", () => {
	/** The next float32 above f. */
	const nextUp = (f: number): number => {
		const cell = new Float32Array([f]);
		const bits = new Int32Array(cell.buffer);
		if (f === 0) bits[0] = 1;
		else bits[0]! += f > 0 ? 1 : -1;
		return cell[0]!;
	};
	test.each([1e-5, 0.1, 1, 3, -0.1, 1e-40, -1e-46, 3.5e38, 0])("%d", (x) => {
		const f = float32AtMost(x);
		expect(Math.fround(f)).toBe(f);
		expect(f).toBeLessThanOrEqual(x);
		expect(nextUp(f)).toBeGreaterThan(x);
	});
});
