/**
 * Mistral-shaped bf16 checkpoints for the merge benchmark, written fast. writeTinyMistral draws seeded
 * normals (about 8 M values/s here), which would take ~90 s for a 2-layer full-width model and ~16 min for
 * the 7B shape. This generator fills both models in one pass with a cheap counter hash instead: the "base"
 * gets bell-shaped noise (sum of two uniforms) with the usual init scale, the "tuned" model is base plus a
 * tenth of that as a delta. Tensor names, shapes and config.json match writeTinyMistral's layout.
 */
import { join } from "node:path";
import { mistralConfig } from "../src/fixtures/tiny-model.js";
import { type TinyShape, type TinyTensorSpec, tinyTensorSpecs } from "../src/fixtures/tiny-weights.js";
import { ShardedWriter } from "../src/io/sharded-writer.js";

/** The Mistral-7B-v0.1 shape at full depth; benches override `layers`. */
export const MISTRAL_7B_SHAPE: TinyShape = {
	layers: 32,
	hidden: 4096,
	intermediate: 14336,
	heads: 32,
	kvHeads: 8,
	vocab: 32000,
	headDim: 128,
	tieEmbeddings: false,
};

/** Standard deviation of the base weights: Mistral's `initializer_range`. */
const BASE_STD = 0.02;
/** Standard deviation of the fine-tuning delta: a tenth of the weights, far above a bf16 step at 0.02. */
const DELTA_STD = 0.002;
/** Spread of the norm weights around 1. */
const NORM_STD = 0.05;
/** Shard size of the generated checkpoints: mergekit's and the Hub's usual 5 GB. */
const SHARD_BYTES = 5_000_000_000;
/** The sum of two uniforms on [0, 1) has variance 1/6; this turns it into unit variance around 0. */
const TRIANGULAR_SCALE = Math.sqrt(6);

/** Options of writeBenchPair. */
export interface BenchPairOptions {
	/** Model shape (default MISTRAL_7B_SHAPE with 2 layers). */
	shape?: TinyShape;
	/** Varies every value; default 0. */
	seed?: number;
	/** Shard size of each model (default 5 GB). */
	maxShardBytes?: number;
	/** Replace existing non-empty folders. */
	force?: boolean;
	/** Write only the base model (benches of a single model: half the time and disk). */
	baseOnly?: boolean;
}

/** What writeBenchPair wrote. */
export interface BenchPair {
	base: string;
	tuned: string;
	/** Tensor data bytes of one model (both have the same). */
	bytesPerModel: number;
	tensors: number;
}

/** One 32-bit hash per (tensor key, index): murmur3's finaliser over a Weyl sequence. */
function hash32(key: number, i: number): number {
	let h = (Math.imul(i, 0x9e3779b1) ^ key) >>> 0;
	h ^= h >>> 16;
	h = Math.imul(h, 0x85ebca6b);
	h ^= h >>> 13;
	h = Math.imul(h, 0xc2b2ae35);
	return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a of a tensor name mixed with the seed: the per-tensor key. */
function tensorKey(name: string, seed: number, salt: number): number {
	let h = (0x811c9dc5 ^ seed ^ salt) >>> 0;
	for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
	return hash32(h >>> 0, salt);
}

/** A zero-mean unit-variance bell-shaped value from one hash: the sum of its two 16-bit halves. */
function bell(h: number): number {
	return ((h & 0xffff) / 65536 + (h >>> 16) / 65536 - 1) * TRIANGULAR_SCALE;
}

/** Fills `base` and `tuned` with the bf16 bit patterns (round-to-nearest-even) of one tensor's values. */
function fillPair(spec: TinyTensorSpec, seed: number, base: Uint16Array, tuned: Uint16Array | undefined): void {
	const isNorm = spec.name.endsWith("norm.weight");
	const center = isNorm ? 1 : 0;
	const std = isNorm ? NORM_STD : BASE_STD;
	const kBase = tensorKey(spec.name, seed, 1);
	const kDelta = tensorKey(spec.name, seed, 2);
	const f32 = new Float32Array(1);
	const u32 = new Uint32Array(f32.buffer);
	for (let i = 0; i < base.length; i++) {
		const b = center + std * bell(hash32(kBase, i));
		f32[0] = b;
		let bits = u32[0]!;
		base[i] = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
		if (tuned === undefined) continue;
		f32[0] = b + DELTA_STD * bell(hash32(kDelta, i));
		bits = u32[0]!;
		tuned[i] = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
	}
}

/** config.json of a generated model: writeTinyMistral's, with Mistral-7B's context length and sliding window. */
export function benchConfig(s: TinyShape): Record<string, unknown> {
	return mistralConfig(s, { initStd: BASE_STD, headDim: s.headDim, slidingWindow: 4096 }, "BF16", 32768);
}

/**
 * Writes a bf16 base model to `<rootDir>/base` and a fine-tuned one (base + small delta) to
 * `<rootDir>/tuned` (unless `baseOnly`), both sharded like Hub checkpoints. Same shape and seed give identical bytes.
 */
export async function writeBenchPair(rootDir: string, opts: BenchPairOptions = {}): Promise<BenchPair> {
	const shape = opts.shape ?? { ...MISTRAL_7B_SHAPE, layers: 2 };
	const seed = opts.seed ?? 0;
	const specs = tinyTensorSpecs(shape);
	const entries = specs.map((s) => ({ name: s.name, dtype: "BF16" as const, shape: s.shape }));
	const writerOpts = { maxShardBytes: opts.maxShardBytes ?? SHARD_BYTES, metadata: {}, force: opts.force ?? false };
	const dirs = { base: join(rootDir, "base"), tuned: join(rootDir, "tuned") };
	const writers = [
		await ShardedWriter.create(dirs.base, entries, writerOpts),
		...(opts.baseOnly === true ? [] : [await ShardedWriter.create(dirs.tuned, entries, writerOpts)]),
	];
	try {
		// Two buffer pairs: the next tensor is filled while the previous one is still being written.
		const largest = Math.max(...specs.map((s) => s.shape.reduce((a, d) => a * d, 1)));
		const buffers = [0, 1].map(() => [new Uint16Array(largest), new Uint16Array(largest)] as const);
		const bytes = (a: Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
		let pending: Promise<unknown> = Promise.resolve();
		for (const [k, spec] of specs.entries()) {
			const n = spec.shape.reduce((a, d) => a * d, 1);
			const pair = buffers[k % 2]!;
			const base = pair[0].subarray(0, n);
			const tuned = pair[1].subarray(0, n);
			fillPair(spec, seed, base, writers.length > 1 ? tuned : undefined);
			await pending;
			pending = Promise.all(writers.map((w, m) => w.writeTensor(spec.name, bytes(m === 0 ? base : tuned))));
			pending.catch(() => undefined);
		}
		await pending;
		const config = `${JSON.stringify(benchConfig(shape), null, 2)}\n`;
		for (const w of writers) {
			await w.writeFile("config.json", config);
			await w.commit();
		}
	} catch (err) {
		await Promise.all(writers.map((w) => w.abort()));
		throw err;
	}
	return { ...dirs, bytesPerModel: writers[0]!.totalSize, tensors: specs.length };
}
