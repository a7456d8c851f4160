/**
 * Reads test/fixtures/mergekit-compat/<method>.json, written by scripts/mergekit-compat/generate.py (torch): small
 * tensors, recipe parameters, and what mergekit computes for them in bf16 / f16 / f32.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { decodeToF32, encodeFromF32 } from "../../src/io/convert.js";
import type { FloatDtype } from "../../src/io/dtypes.js";
import { ShardedWriter } from "../../src/io/sharded-writer.js";
import type { CompatDtype } from "../../src/methods/compat/torch-float.js";
import { REPO_ROOT } from "./cli.js";

export const FIXTURE_DIR = path.join(REPO_ROOT, "test", "fixtures", "mergekit-compat");

const DTYPE: Record<string, CompatDtype> = { bfloat16: "BF16", float16: "F16", float32: "F32" };

interface RawTensor {
	dtype: string;
	data: string;
}

interface RawCase {
	name: string;
	dtype: string;
	inputDtype: string;
	shape: number[];
	params: Record<string, unknown>;
	modelParams: Record<string, unknown>[];
	base: string | null;
	models: string[];
	expected: RawTensor;
	masks?: string[];
	probabilities?: RawTensor[];
}

export interface FixtureTensor {
	dtype: CompatDtype;
	values: Float32Array;
}

export interface FixtureCase {
	name: string;
	method: string;
	/** The recipe's dtype (what mergekit computes in). */
	dtype: CompatDtype;
	/** How the input tensors are stored (float32 inputs exercise the cast on load). */
	inputDtype: CompatDtype;
	shape: number[];
	params: Record<string, unknown>;
	modelParams: Record<string, unknown>[];
	base: Float32Array | undefined;
	models: Float32Array[];
	expected: FixtureTensor;
	/** DARE / DELLA: the keep masks torch.bernoulli drew, per model. */
	masks?: Uint8Array[];
	/** DELLA: the keep probabilities, per model. */
	probabilities?: FixtureTensor[];
}

function decode(b64: string, dtype: CompatDtype): Float32Array {
	const bytes = Buffer.from(b64, "base64");
	return decodeToF32(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), dtype as FloatDtype);
}

function tensorOf(raw: RawTensor): FixtureTensor {
	const dtype = DTYPE[raw.dtype]!;
	return { dtype, values: decode(raw.data, dtype) };
}

/** Every case of one method's fixture file. */
export function loadFixtures(method: string): FixtureCase[] {
	const doc = JSON.parse(readFileSync(path.join(FIXTURE_DIR, `${method}.json`), "utf8")) as { cases: RawCase[] };
	return doc.cases.map((c) => {
		const inputDtype = DTYPE[c.inputDtype]!;
		return {
			name: c.name,
			method,
			dtype: DTYPE[c.dtype]!,
			inputDtype,
			shape: c.shape,
			params: c.params,
			modelParams: c.modelParams,
			base: c.base === null ? undefined : decode(c.base, inputDtype),
			models: c.models.map((m) => decode(m, inputDtype)),
			expected: tensorOf(c.expected),
			...(c.masks !== undefined ? { masks: c.masks.map((m) => new Uint8Array(Buffer.from(m, "base64"))) } : {}),
			...(c.probabilities !== undefined ? { probabilities: c.probabilities.map(tensorOf) } : {}),
		};
	});
}

/** Elements whose float32 bit patterns differ (NaN equals NaN), with the first few for the message. */
export function bitDifferences(actual: Float32Array, expected: Float32Array): { count: number; first: string[] } {
	const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
	const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
	const first: string[] = [];
	let count = 0;
	for (let i = 0; i < Math.max(a.length, e.length); i++) {
		const same = a[i] === e[i] || (Number.isNaN(actual[i]) && Number.isNaN(expected[i]));
		if (same) continue;
		count++;
		if (first.length < 5) first.push(`[${i}] got ${actual[i]} want ${expected[i]}`);
	}
	return { count, first };
}

/** The tensor a fixture checkpoint holds, and a second copy so a merge has two jobs (worker pool with threads > 1). */
export const FIXTURE_TENSOR = "model.layers.0.mlp.down_proj.weight";
export const FIXTURE_TWIN = "model.layers.1.mlp.down_proj.weight";

const TORCH_NAME: Record<CompatDtype, string> = { BF16: "bfloat16", F16: "float16", F32: "float32" };

/** One checkpoint holding `values` as FIXTURE_TENSOR and FIXTURE_TWIN. */
export async function writeFixtureCheckpoint(dir: string, values: Float32Array, shape: number[], dtype: CompatDtype): Promise<void> {
	const writer = await ShardedWriter.create(
		dir,
		[FIXTURE_TENSOR, FIXTURE_TWIN].map((name) => ({ name, dtype: dtype as FloatDtype, shape })),
		{ maxShardBytes: 1e12, metadata: {}, force: false },
	);
	for (const name of [FIXTURE_TENSOR, FIXTURE_TWIN]) await writer.writeTensor(name, values);
	await writer.commit();
}

/** Writes the case's inputs as checkpoints under `dir` and returns the recipe merging them. */
export async function writeFixtureRecipe(c: FixtureCase, dir: string, opts: { compat: boolean }): Promise<string> {
	const base = path.join(dir, "base");
	if (c.base !== undefined) await writeFixtureCheckpoint(base, c.base, c.shape, c.inputDtype);
	const models: string[] = [];
	for (const [m, values] of c.models.entries()) {
		const p = path.join(dir, `m${m}`);
		await writeFixtureCheckpoint(p, values, c.shape, c.inputDtype);
		models.push(`  - model: ${p}\n    parameters: ${JSON.stringify(c.modelParams[m])}`);
	}
	return [
		`merge_method: ${c.method}`,
		...(c.base !== undefined ? [`base_model: ${base}`] : []),
		"models:",
		...models,
		`parameters: ${JSON.stringify(c.params)}`,
		`dtype: ${TORCH_NAME[c.dtype]}`,
		...(opts.compat ? ["compat: mergekit"] : []),
		"",
	].join("\n");
}

/** The case's expected output as the bytes a safetensors file stores. */
export function expectedFixtureBytes(c: FixtureCase): Uint8Array {
	return encodeFromF32(c.expected.values, c.expected.dtype as FloatDtype);
}

/** One case of one method's fixtures, by name. */
export function fixtureCase(method: string, name: string): FixtureCase {
	const c = loadFixtures(method).find((x) => x.name === name);
	if (c === undefined) throw new Error(`no fixture ${method}/${name}`);
	return c;
}
