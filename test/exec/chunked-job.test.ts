/**
 * runChunked's held chunks: a kernel that scans before it emits keeps as many of its first chunks as the thread's
 * allowance has room for, reads them once, and reads only the others again in later passes; the output bytes are
 * the same however much is held, and the allowance is given back when the job ends (also when it fails).
 */
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { HeldChunks, runChunked } from "../../src/exec/chunked-job.js";
import { encodeFromF32 } from "../../src/io/convert.js";
import type { TensorInfo, TensorSource } from "../../src/io/types.js";
import type { Chunk, ChunkedKernel } from "../../src/methods/chunked.js";

const N = 5 * 1024 + 300;
const STEP = 1024;
const CHUNKS = Math.ceil(N / STEP);

/** A bf16 tensor in memory that counts the bytes read from it (and can fail at a given read). */
class CountingSource {
	bytesRead = 0;
	reads = 0;
	failAt = -1;
	readonly location: string;
	private readonly bytes: Uint8Array;

	constructor(name: string, values: Float32Array) {
		this.location = name;
		this.bytes = encodeFromF32(values, "BF16");
	}

	info(): TensorInfo {
		return { dtype: "BF16", shape: [N], dataOffsets: [0, this.bytes.byteLength] } as unknown as TensorInfo;
	}

	async readRaw(_name: string, start = 0, end = this.bytes.byteLength, into?: Uint8Array): Promise<Uint8Array> {
		if (this.reads++ === this.failAt) throw new Error(`${this.location}: read failed`);
		this.bytesRead += end - start;
		const out = into ?? new Uint8Array(end - start);
		out.set(this.bytes.subarray(start, end));
		return out;
	}
}

/** A two-pass kernel: pass 0 sums the base, pass 1 sums the model; emit = base + model · (Σbase − Σmodel). */
class TwoPassKernel implements ChunkedKernel {
	readonly scanPasses: number;
	private sums = [0, 0];

	constructor(passes = 2) {
		this.scanPasses = passes;
	}

	scan(pass: number, chunk: Chunk): void {
		const values = pass === 0 ? chunk.base! : chunk.models[0]!;
		for (const v of values) this.sums[pass] = this.sums[pass]! + v;
	}

	emit(chunk: Chunk): Float32Array {
		const base = chunk.base!;
		const model = chunk.models[0]!;
		const f = this.sums[0]! - this.sums[1]!;
		for (let i = 0; i < base.length; i++) base[i] = base[i]! + model[i]! * f;
		return base;
	}
}

let dir: string;
beforeAll(async () => {
	dir = await mkdtemp(join(tmpdir(), "lm-merge-chunked-"));
});
afterAll(async () => {
	await rm(dir, { recursive: true, force: true });
});

const valuesOf = (seed: number) => new Float32Array(N).map((_, i) => Math.sin(i * 0.37 + seed) * 0.01);

/** Runs the kernel over a fresh base/model pair; returns the output bytes and the bytes read per input. */
async function run(kernel: ChunkedKernel, held: HeldChunks | undefined, failAt = -1): Promise<{ out: Buffer; read: number }> {
	const base = new CountingSource("base", valuesOf(1));
	const model = new CountingSource("model", valuesOf(2));
	model.failAt = failAt;
	const file = join(dir, `out-${Math.random().toString(36).slice(2)}.bin`);
	const handle = await open(file, "w+");
	try {
		await runChunked({
			kernel,
			numel: N,
			base: { source: base as unknown as TensorSource, tensor: "t" },
			models: [{ source: model as unknown as TensorSource, tensor: "t" }],
			out: { handle, file, name: "t", dtype: "BF16", position: 0 },
			chunkElements: STEP,
			blockElements: STEP,
			...(held !== undefined ? { held } : {}),
		});
	} finally {
		await handle.close();
	}
	expect(model.bytesRead).toBe(base.bytesRead);
	return { out: await readFile(file), read: base.bytesRead };
}

describe("runChunked with held chunks", () => {
	const bytes = 2 * N;
	const chunkPair = 2 * STEP * 2; // one chunk of both inputs, in bf16

	test("without an allowance every pass reads every chunk", async () => {
		expect((await run(new TwoPassKernel(), undefined)).read).toBe(3 * bytes);
	});

	test("room for every chunk: each is read once, and the output is the same", async () => {
		const plain = await run(new TwoPassKernel(), undefined);
		const held = new HeldChunks(CHUNKS * chunkPair);
		const got = await run(new TwoPassKernel(), held);
		expect(got.read).toBe(bytes);
		expect(got.out.equals(plain.out)).toBe(true);
		expect(held.used).toBe(0);
	});

	test("room for two chunks: those are read once, the other four in every pass", async () => {
		const plain = await run(new TwoPassKernel(), undefined);
		const held = new HeldChunks(2 * chunkPair + chunkPair / 2);
		const got = await run(new TwoPassKernel(), held);
		const heldBytes = 2 * STEP * 2;
		expect(got.read).toBe(3 * bytes - 2 * heldBytes);
		expect(got.out.equals(plain.out)).toBe(true);
		expect(held.used).toBe(0);
		// The buffers stay in the allowance's pool for the next job.
		expect(held.pool.keptBytes).toBe(2 * chunkPair);
	});

	test("an allowance already in use by another job of the thread leaves less room", async () => {
		const held = new HeldChunks(3 * chunkPair);
		held.used = 2 * chunkPair;
		expect((await run(new TwoPassKernel(), held)).read).toBe(3 * bytes - 2 * (2 * STEP));
		expect(held.used).toBe(2 * chunkPair);
	});

	test("a kernel without scan passes holds nothing", async () => {
		const held = new HeldChunks(CHUNKS * chunkPair);
		expect((await run(new TwoPassKernel(0), held)).read).toBe(bytes);
		expect(held.pool.keptBytes).toBe(0);
	});

	test("a failed read gives the allowance back", async () => {
		const held = new HeldChunks(CHUNKS * chunkPair);
		await expect(run(new TwoPassKernel(), held, 3)).rejects.toThrow(/model: read failed/);
		expect(held.used).toBe(0);
	});
});
