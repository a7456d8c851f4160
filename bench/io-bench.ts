/**
 * I/O benchmark: how close the safetensors reader gets to a plain positioned `fs` read of the same bytes,
 * and how fast the float conversions run. Writes a bf16 file (~512 MB by default) with SafetensorsWriter
 * into os.tmpdir(), measures everything in the same run and removes the file.
 *
 *   npx tsx bench/io-bench.ts [sizeMB]
 *
 * The file was just written, so it is usually in the page cache: the reads measure copy + decode cost,
 * not the disk. All rates are printed with their ratio to the plain read.
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { decodeToF32, encodeFromF32 } from "../src/io/convert.js";
import { openSafetensors } from "../src/io/reader.js";
import { SafetensorsWriter } from "../src/io/writer.js";

/** Options of runIoBench. */
export interface IoBenchOptions {
	/** Approximate size of the test file (default 512 MiB). */
	sizeBytes?: number;
	/** Folder for the temporary file (default os.tmpdir()). */
	dir?: string;
	/** Where lines are printed (default console.log). */
	log?: (line: string) => void;
}

/** One measurement: bytes (of bf16 / file data) per second and, for conversions, elements per second. */
export interface IoBenchResult {
	name: string;
	seconds: number;
	bytesPerSecond: number;
	elementsPerSecond?: number;
	/** bytesPerSecond divided by that of the plain fs read. */
	ratioToPlainRead: number;
}

/** Size of one test tensor: 4096 × 2048 bf16 = 16 MiB, the order of a 7B model's projection slice. */
const TENSOR_SHAPE = [4096, 2048] as const;
/** Read size of the plain-fs baseline, the same slice size the writer uses. */
const PLAIN_READ_BYTES = 16 * 2 ** 20;
/** Elements per conversion measurement (64 MiB of f32): long enough to swamp timer noise. */
const CONVERT_ELEMENTS = 16 * 2 ** 20;

/** Runs the benchmark and returns every measurement (also printed through `log`). */
export async function runIoBench(opts: IoBenchOptions = {}): Promise<IoBenchResult[]> {
	const log = opts.log ?? ((line: string) => console.log(line));
	const perTensor = TENSOR_SHAPE[0] * TENSOR_SHAPE[1];
	const count = Math.max(1, Math.round((opts.sizeBytes ?? 512 * 2 ** 20) / (perTensor * 2)));
	const dir = await mkdtemp(join(opts.dir ?? tmpdir(), "lm-merge-io-bench-"));
	const path = join(dir, "bench.safetensors");
	try {
		const names = Array.from({ length: count }, (_, i) => `model.layers.${i}.mlp.up_proj.weight`);
		const values = new Float32Array(perTensor);
		let x = 1;
		for (let i = 0; i < perTensor; i++) {
			x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
			values[i] = (x / 2 ** 32 - 0.5) * 0.04;
		}
		let t = performance.now();
		const writer = await SafetensorsWriter.create(
			path,
			names.map((name) => ({ name, dtype: "BF16" as const, shape: [...TENSOR_SHAPE] })),
			{ format: "pt" },
		);
		for (const name of names) await writer.writeTensor(name, values);
		await writer.finish();
		const fileSize = writer.fileSize;
		log(`wrote ${count} bf16 tensors, ${(fileSize / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - t) / 1000).toFixed(2)} s: ${path}`);

		await plainRead(path, fileSize); // warm-up: same page-cache state for every measurement
		const results: IoBenchResult[] = [];
		const record = (name: string, seconds: number, bytes: number, elements?: number): void => {
			const bytesPerSecond = bytes / seconds;
			const base = results[0]?.bytesPerSecond ?? bytesPerSecond;
			const r: IoBenchResult = { name, seconds, bytesPerSecond, ratioToPlainRead: bytesPerSecond / base };
			if (elements !== undefined) r.elementsPerSecond = elements / seconds;
			results.push(r);
			const eps = elements === undefined ? "" : `  ${(elements / seconds / 1e6).toFixed(0).padStart(6)} M elem/s`;
			log(
				`${name.padEnd(34)} ${(bytesPerSecond / 2 ** 20).toFixed(0).padStart(7)} MiB/s${eps}  ×${r.ratioToPlainRead.toFixed(2)} of plain read`,
			);
		};

		t = performance.now();
		await plainRead(path, fileSize);
		record("plain fs read (16 MiB positional)", (performance.now() - t) / 1000, fileSize);

		const file = await openSafetensors(path);
		try {
			t = performance.now();
			for (const name of names) await file.read(name);
			record("openSafetensors().read() → f32", (performance.now() - t) / 1000, fileSize - file.header.dataStart, count * perTensor);
			t = performance.now();
			for (const name of names) await file.readRaw(name);
			record("openSafetensors().readRaw()", (performance.now() - t) / 1000, fileSize - file.header.dataStart);
		} finally {
			await file.close();
		}

		const src = new Float32Array(CONVERT_ELEMENTS);
		for (let i = 0; i < CONVERT_ELEMENTS; i++) src[i] = values[i % perTensor]!;
		const half = new Uint8Array(CONVERT_ELEMENTS * 2);
		const back = new Float32Array(CONVERT_ELEMENTS);
		half.fill(1);
		back.fill(1); // touch every page now, so page faults are not timed
		for (const dtype of ["BF16", "F16"] as const) {
			record(
				`encode f32 → ${dtype.toLowerCase()}`,
				bestOf(() => encodeFromF32(src, dtype, half)),
				half.byteLength,
				CONVERT_ELEMENTS,
			);
			record(
				`decode ${dtype.toLowerCase()} → f32`,
				bestOf(() => decodeToF32(half, dtype, back)),
				half.byteLength,
				CONVERT_ELEMENTS,
			);
		}
		return results;
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
}

/** Repetitions of each conversion; the fastest counts (the first runs include JIT warm-up). */
const CONVERT_REPEATS = 3;

/** Seconds of the fastest of CONVERT_REPEATS runs of `fn`. */
function bestOf(fn: () => unknown): number {
	let best = Infinity;
	for (let r = 0; r < CONVERT_REPEATS; r++) {
		const t = performance.now();
		fn();
		best = Math.min(best, (performance.now() - t) / 1000);
	}
	return best;
}

/** Reads the whole file with 16 MiB positioned reads into one reused buffer. */
async function plainRead(path: string, size: number): Promise<void> {
	const handle = await open(path, "r");
	try {
		const buf = new Uint8Array(PLAIN_READ_BYTES);
		for (let pos = 0; pos < size; ) {
			const { bytesRead } = await handle.read(buf, 0, Math.min(PLAIN_READ_BYTES, size - pos), pos);
			if (bytesRead === 0) throw new Error(`${path}: unexpected end of file at ${pos}`);
			pos += bytesRead;
		}
	} finally {
		await handle.close();
	}
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
	const mb = Number(process.argv[2] ?? 512);
	await runIoBench({ sizeBytes: mb * 2 ** 20 });
}
