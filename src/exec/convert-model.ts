/**
 * `merge convert`: rewrites a model (typically PyTorch `.bin` weights) as safetensors, tensor by tensor and byte for
 * byte (same names, dtypes and shapes; strided views come out contiguous, a tensor shared under two names is written
 * under both). config.json and the tokenizer and generation files are copied. The output appears only when complete,
 * like a merge's.
 */
import { type FileHandle, open, readFile } from "node:fs/promises";
import path from "node:path";
import { ExecError } from "../errors.js";
import { type Dtype, isFloatDtype } from "../io/dtypes.js";
import { OutputFolder } from "../io/output-folder.js";
import { assertNoOverlap } from "../io/output-guard.js";
import { type ModelSource, openModel } from "../model/model-dir.js";
import { BufferPool } from "./buffer-pool.js";
import { copyChunked } from "./chunked-job.js";
import { TOKENIZER_FILES } from "./copy-extras.js";
import type { MergeEvent } from "./events.js";
import { DEFAULT_SHARD_BYTES } from "./run.js";

/** Options of {@link convertModel}: the output folder and how it is written. */
interface ConvertOptions {
	/** The output folder; it appears only when the conversion is complete. */
	out: string;
	/** Replace an existing non-empty output folder. */
	force?: boolean;
	/** Largest shard in bytes (default 5 GB). */
	shardSize?: number;
	/** Stop between tensors; nothing is left behind. */
	signal?: AbortSignal;
}

/** What {@link convertModel} wrote: the folder, its files, tensor count, bytes and time. */
export interface ConvertResult {
	out: string;
	files: string[];
	tensors: number;
	bytes: number;
	seconds: number;
}

/** Files copied next to the weights when the input folder has them. */
const COPIED_FILES = ["config.json", ...TOKENIZER_FILES];

/** Converts the model at `input` (a folder or weight file); yields the same progress events as a merge. */
export async function* convertModelIter(input: string, opts: ConvertOptions): AsyncGenerator<MergeEvent, ConvertResult> {
	const started = performance.now();
	const source = await openModel(input);
	try {
		// --force replaces the output folder: it must never be (or contain, or sit in) the input, by real path and inode.
		await assertNoOverlap(opts.out, [{ path: source.dir, label: input }]);
		return yield* convertSource(source, opts, started);
	} finally {
		await source.close();
	}
}

async function* convertSource(source: ModelSource, opts: ConvertOptions, started: number): AsyncGenerator<MergeEvent, ConvertResult> {
	const names = source.names();
	const entries = names.map((name) => {
		const info = source.info(name);
		return { name, dtype: info.dtype as Dtype, shape: info.shape };
	});
	const folder = await OutputFolder.create(opts.out, entries, {
		maxShardBytes: opts.shardSize ?? DEFAULT_SHARD_BYTES,
		force: opts.force ?? false,
	});
	const pool = new BufferPool();
	let committed = false;
	try {
		const total = source.totalBytes;
		yield { event: "planned", tensors: names.length, shards: folder.shards.length, bytes: total, out: opts.out };
		for (const e of entries) {
			if (!isFloatDtype(e.dtype))
				yield { event: "warning", message: `${e.name} is ${e.dtype}: copied as is (merges copy such tensors from the base)` };
		}
		let doneBytes = 0;
		const handles = new Map<string, FileHandle>();
		try {
			for (let i = 0; i < names.length; i++) {
				if (opts.signal?.aborted) throw new ExecError("Interrupted", "conversion interrupted; no output was written");
				const name = names[i]!;
				const t = folder.target(name);
				let handle = handles.get(t.file);
				if (handle === undefined) {
					handle = await open(t.file, "r+");
					handles.set(t.file, handle);
				}
				// A raw copy: the output's dtype field is not used by copyChunked.
				await copyChunked({
					source,
					tensor: name,
					byteLength: t.byteLength,
					out: { handle, file: t.file, name, dtype: "F32", position: t.position },
					pool,
				});
				doneBytes += t.byteLength;
				const shard = await folder.tensorWritten(name);
				yield { event: "tensor", name, index: i, total: names.length, bytes: t.byteLength, doneBytes, totalBytes: total };
				if (shard !== undefined) {
					await handles.get(t.file)?.close();
					handles.delete(t.file);
					yield { event: "shardWritten", path: shard.file, bytes: shard.bytes };
				}
			}
		} finally {
			await Promise.all([...handles.values()].map((h) => h.close().catch(() => undefined)));
		}
		for (const name of COPIED_FILES) {
			const data = await readFile(path.join(source.dir, name)).catch((err: NodeJS.ErrnoException) => {
				if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
				throw new ExecError("Io", `${path.join(source.dir, name)}: cannot read: ${err.message}`);
			});
			if (data !== undefined) await folder.writeFile(name, data);
		}
		await folder.commit();
		committed = true;
		const seconds = (performance.now() - started) / 1000;
		yield { event: "done", out: opts.out, seconds, bytes: total };
		return { out: opts.out, files: folder.files, tensors: names.length, bytes: total, seconds };
	} finally {
		pool.dispose();
		if (!committed) await folder.close(false);
	}
}

/** Runs a conversion to completion; `onEvent` receives each progress event. */
export async function convertModel(input: string, opts: ConvertOptions & { onEvent?: (e: MergeEvent) => void }): Promise<ConvertResult> {
	const gen = convertModelIter(input, opts);
	for (;;) {
		const r = await gen.next();
		if (r.done === true) return r.value;
		opts.onEvent?.(r.value);
	}
}
