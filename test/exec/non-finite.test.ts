/**
 * Issue 12, item 10: a merge that produces NaN or ±Infinity from finite inputs is an error naming the tensor and the
 * method (the check is folded into the encode loops), and leaves no output; non-finite values that come from the
 * inputs are written as they are, as mergekit would, with a warning.
 */
import { open, readdir } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { MethodError } from "../../src/errors.js";
import type { MergeEvent } from "../../src/exec/events.js";
import { mergeModels } from "../../src/exec/merge-models.js";
import { openSafetensors } from "../../src/io/reader.js";
import { openModel } from "../../src/model/model-dir.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { rejected } from "../helpers/errors.js";
import { exists, useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-nonfinite-");
let A: string;
let B: string;
/** B with +Inf written over the first values of one tensor. */
let BInf: string;
const POISONED = "model.layers.1.mlp.up_proj.weight";

beforeAll(async () => {
	A = path.join(root(), "a");
	B = path.join(root(), "b");
	BInf = path.join(root(), "b-inf");
	await writeTinyMistral(A, { seed: 1, layers: 2, hidden: 32, intermediate: 48, heads: 4, kvHeads: 2 });
	await writeTinyMistral(B, { seed: 2, base: A, delta: 0.01 });
	await writeTinyMistral(BInf, { seed: 2, base: A, delta: 0.01 });
	const file = path.join(BInf, "model.safetensors");
	const st = await openSafetensors(file);
	const info = st.info(POISONED);
	const at = st.header.dataStart + info.byteOffset;
	await st.close();
	const bf16Inf = Buffer.from([0x80, 0x7f, 0x80, 0xff]); // +Inf, −Inf
	const handle = await open(file, "r+");
	await handle.write(bf16Inf, 0, 4, at);
	await handle.close();
});

const linear = (a: string, b: string, w: string, extra = "") =>
	parseRecipe(
		`merge_method: linear\nmodels:\n  - model: ${a}\n    parameters: {weight: ${w}}\n` +
			`  - model: ${b}\n    parameters: {weight: ${w}}\n${extra}`,
	);

/** Entries of the test folder whose name starts with `name` (the output and any leftover partial sibling). */
async function leftovers(name: string): Promise<string[]> {
	return (await readdir(root())).filter((e) => e.startsWith(name));
}

describe("non-finite values produced by a merge", () => {
	test.each([
		["in this thread, whole tensors", { threads: 1 }],
		["in worker threads", { threads: 2 }],
		["streamed in chunks through the compiled bf16 encoder", { threads: 1, chunkElements: 1024 }],
	])(
		"linear with weights 1e308 and normalize: false is a Numerical MethodError naming the tensor; nothing is left (%s)",
		async (label, opts) => {
			const name = `overflow-${label.split(" ")[1]}`;
			const out = path.join(root(), name);
			const err = await rejected(mergeModels(linear(A, B, "1e308", "parameters: {normalize: false}\n"), { out, ...opts }), MethodError);
			expect(err.kind).toBe("Numerical");
			expect(err.message).toMatch(/^linear: tensor "[^"]+": the merge produced /);
			expect(err.message).toContain("Infinity");
			expect(err.message).toContain("finite");
			expect(await leftovers(name)).toEqual([]);
		},
	);

	test("with --resume the failed merge stays a partial folder, never the output", async () => {
		const out = path.join(root(), "overflow-resume");
		const err = await rejected(
			mergeModels(linear(A, B, "1e308", "parameters: {normalize: false}\n"), { out, threads: 1, resume: true }),
			MethodError,
		);
		expect(err.kind).toBe("Numerical");
		expect(await exists(out)).toBe(false);
		expect((await leftovers("overflow-resume")).every((e) => e !== "overflow-resume")).toBe(true);
	});

	test("values that overflow float16 (70000 > 65504) are caught too, with the dtype named", async () => {
		const out = path.join(root(), "overflow-f16");
		const err = await rejected(
			mergeModels(linear(A, B, "1e5", "parameters: {normalize: false}\ndtype: float16\n"), { out, threads: 1 }),
			MethodError,
		);
		expect(err.kind).toBe("Numerical");
		expect(err.message).toContain("float16");
		expect(await exists(out)).toBe(false);
	});

	test("weights 1e308 and 1e308 with normalize give the plain average (not 'weights sum to 0')", async () => {
		const big = path.join(root(), "big-weights");
		const one = path.join(root(), "unit-weights");
		await mergeModels(linear(A, B, "1e308"), { out: big, threads: 1 });
		await mergeModels(linear(A, B, "1"), { out: one, threads: 1 });
		const x = await openModel(big);
		const y = await openModel(one);
		for (const n of y.names()) expect(Buffer.from(await x.readRaw(n)).equals(Buffer.from(await y.readRaw(n))), n).toBe(true);
		await x.close();
		await y.close();
	});
});

describe("non-finite values that come from the inputs", () => {
	test.each([
		["whole tensors", { threads: 1 }],
		["streamed", { threads: 1, chunkElements: 1024 }],
	])("are written as they are, with a warning naming the tensor (%s)", async (label, opts) => {
		const out = path.join(root(), `from-inputs-${label.split(" ")[0]}`);
		const events: MergeEvent[] = [];
		const result = await mergeModels(linear(A, BInf, "0.5"), { out, ...opts, onEvent: (e) => events.push(e) });
		const warning = result.warnings.find((w) => w.includes(POISONED));
		expect(warning).toMatch(/non-finite/);
		expect(warning).toMatch(/input/);
		expect(events.some((e) => e.event === "warning" && e.message === warning)).toBe(true);
		const merged = await openModel(out);
		const t = await merged.read(POISONED);
		expect([t.data[0], t.data[1]]).toEqual([Infinity, -Infinity]);
		expect(t.data.slice(2).every(Number.isFinite)).toBe(true);
		await merged.close();
	});
});
