/**
 * `compat: mergekit` end to end: fixture tensors written as checkpoints, merged from a recipe with the compat key
 * (through the planner, the executor and its worker threads), must land in the output file bit for bit as torch
 * computed them. The same recipes without compat keep lm-merge's float32 result, which differs.
 */
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { PlanError } from "../../src/errors.js";
import { mergeModels } from "../../src/exec/merge-models.js";
import { encodeFromF32 } from "../../src/io/convert.js";
import type { FloatDtype } from "../../src/io/dtypes.js";
import { openModel } from "../../src/model/model-dir.js";
import { jobMemory } from "../../src/plan/memory.js";
import { buildPlan, closePlan } from "../../src/plan/plan.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";
import {
	expectedFixtureBytes,
	FIXTURE_TENSOR,
	FIXTURE_TWIN,
	type FixtureCase,
	fixtureCase,
	writeFixtureCheckpoint,
	writeFixtureRecipe,
} from "../helpers/mergekit-fixtures.js";

const root = useTempDir("lm-merge-compat-");

/** Writes the case's checkpoints, merges them and returns the output tensor's raw bytes (both copies must agree). */
async function mergeCase(
	c: FixtureCase,
	name: string,
	opts: { compat: boolean; threads: number; chunkElements?: number },
): Promise<Uint8Array> {
	const dir = path.join(root(), name);
	const yaml = await writeFixtureRecipe(c, dir, { compat: opts.compat });
	const out = path.join(dir, "out");
	await mergeModels(parseRecipe(yaml), {
		out,
		threads: opts.threads,
		...(opts.chunkElements !== undefined ? { chunkElements: opts.chunkElements } : {}),
	});
	const merged = await openModel(out);
	try {
		const bytes = await merged.readRaw(FIXTURE_TENSOR);
		expect(Buffer.from(await merged.readRaw(FIXTURE_TWIN)).equals(Buffer.from(bytes))).toBe(true);
		return bytes;
	} finally {
		await merged.close();
	}
}

const fixture = fixtureCase;
const expectedBytes = expectedFixtureBytes;

const CASES: Array<[string, string, number]> = [
	["ties", "ties-bfloat16-3models", 1],
	["ties", "ties-float16-2models", 2],
	["task_arithmetic", "ta-bfloat16-from-float32", 1],
	["linear", "linear-bfloat16-from-float32", 2],
	["breadcrumbs", "breadcrumbs-bfloat16-ntop0", 1],
	["slerp", "slerp-bfloat16-t0.3", 1],
	["nuslerp", "nuslerp-float16-base1-rw1-fl0", 1],
	["multislerp", "multislerp-bfloat16-3models-base1", 2],
	["karcher", "karcher-bfloat16-2models-base1-64x100", 1],
	["model_stock", "model_stock-bfloat16-3models-fw1", 1],
	["sce", "sce-bfloat16-topk0.5", 1],
	["nearswap", "nearswap-bfloat16-t0.005", 1],
	["arcee_fusion", "arcee_fusion-bfloat16-64x100", 1],
];

describe("compat: mergekit writes torch's bytes", () => {
	test.each(CASES)("%s %s (threads %i)", async (method, name, threads) => {
		const c = fixture(method, name);
		const got = await mergeCase(c, `${name}-t${threads}`, { compat: true, threads });
		expect(Buffer.from(got).equals(Buffer.from(expectedBytes(c)))).toBe(true);
	});

	test("tensors above the streaming threshold still run compat's whole-tensor arithmetic", async () => {
		// With 64-element chunks every fixture tensor would take the float32 chunked kernels; compat must not.
		const c = fixture("ties", "ties-bfloat16-3models");
		const got = await mergeCase(c, "chunked", { compat: true, threads: 1, chunkElements: 64 });
		expect(Buffer.from(got).equals(Buffer.from(expectedBytes(c)))).toBe(true);
	});

	test.each([
		["ties", "ties-bfloat16-3models"],
		["arcee_fusion", "arcee_fusion-bfloat16-64x100"],
		["multislerp", "multislerp-bfloat16-3models-base1"],
	])("without compat, %s keeps the float32 result, which differs from mergekit's (%s)", async (method, name) => {
		const c = fixture(method, name);
		const got = await mergeCase(c, `${name}-f32`, { compat: false, threads: 1 });
		const want = encodeFromF32(c.expected.values, c.dtype as FloatDtype);
		expect(got.length).toBe(want.length);
		expect(Buffer.from(got).equals(Buffer.from(want))).toBe(false);
	});
});

describe("planning compat: mergekit", () => {
	let dir: string;
	beforeAll(async () => {
		dir = path.join(root(), "plan");
		const c = fixture("ties", "ties-bfloat16-2models");
		await writeFixtureCheckpoint(path.join(dir, "a"), c.base!, c.shape, "BF16");
		await writeFixtureCheckpoint(path.join(dir, "b"), c.models[0]!, c.shape, "BF16");
		await writeFixtureCheckpoint(path.join(dir, "h"), c.models[1]!, c.shape, "F16");
	});
	const recipe = (method: string, extra = "", model = "b") =>
		parseRecipe(
			`merge_method: ${method}\nbase_model: ${path.join(dir, "a")}\nmodels:\n` +
				`  - model: ${path.join(dir, model)}\n    parameters: {weight: 0.5, density: 0.5}\n${extra}`,
		);

	test("the plan records the mode and each tensor's compute dtype; --compat overrides the recipe", async () => {
		const plan = await buildPlan(recipe("ties", "compat: mergekit\n"));
		expect(plan.compat).toBe("mergekit");
		expect(plan.jobs[0]!.compat).toEqual({ dtype: "BF16" });
		await closePlan(plan);
		const off = await buildPlan(recipe("ties", "compat: mergekit\n"), { compat: "float32" });
		expect(off.compat).toBe("float32");
		expect(off.jobs[0]!.compat).toBeUndefined();
		await closePlan(off);
		const on = await buildPlan(recipe("ties"), { compat: "mergekit" });
		expect(on.jobs[0]!.compat).toEqual({ dtype: "BF16" });
		// Whole tensors: the base, one model and three tensor-sized scratch arrays in float32, plus a fixed margin.
		const n = on.jobs[0]!.output.shape.reduce((a, b) => a * b, 1);
		expect(jobMemory(on.jobs[0]!)).toBe(n * 4 * (2 + 3) + 32 * 2 ** 20);
		await closePlan(on);
	});

	test("arcee_fusion writes float32 as mergekit does, unless out_dtype is set", async () => {
		const plain = await buildPlan(
			parseRecipe(
				`merge_method: arcee_fusion\nbase_model: ${path.join(dir, "a")}\nmodels: [{model: ${path.join(dir, "b")}}]\n` +
					`dtype: bfloat16\ncompat: mergekit\n`,
			),
		);
		expect(plain.jobs[0]!.output.dtype).toBe("F32");
		expect(plain.warnings.some((w) => w.includes("float32") && w.includes("issue #604"))).toBe(true);
		await closePlan(plain);
		const cast = await buildPlan(
			parseRecipe(
				`merge_method: arcee_fusion\nbase_model: ${path.join(dir, "a")}\nmodels: [{model: ${path.join(dir, "b")}}]\n` +
					`dtype: bfloat16\nout_dtype: bfloat16\ncompat: mergekit\n`,
			),
		);
		expect(cast.jobs[0]!.output.dtype).toBe("BF16");
		await closePlan(cast);
	});

	test("random methods say their draws are not mergekit's", async () => {
		const plan = await buildPlan(recipe("dare_ties", "compat: mergekit\n"));
		expect(plan.warnings.some((w) => w.includes("random draws"))).toBe(true);
		await closePlan(plan);
	});

	test("refusals: a method without a compat kernel, float64, inputs of different dtypes without dtype", async () => {
		const ram = await rejected(
			buildPlan(
				parseRecipe(`merge_method: ram\nbase_model: ${path.join(dir, "a")}\nmodels: [{model: ${path.join(dir, "b")}}]\ncompat: mergekit\n`),
			),
			PlanError,
		);
		expect(ram.kind).toBe("InvalidParameter");
		expect(ram.message).toContain("compat: mergekit is not available for ram");
		expect((await rejected(buildPlan(recipe("ties", "dtype: float64\ncompat: mergekit\n")), PlanError)).kind).toBe("InvalidParameter");
		const mixed = await rejected(buildPlan(recipe("ties", "compat: mergekit\n", "h")), PlanError);
		expect(mixed.kind).toBe("InvalidParameter");
		expect(mixed.message).toContain("needs a recipe dtype");
		const fixed = await buildPlan(recipe("ties", "dtype: float16\ncompat: mergekit\n", "h"));
		expect(fixed.jobs[0]!.compat).toEqual({ dtype: "F16" });
		await closePlan(fixed);
	});
});
