/**
 * The executor's output folder: every shard is laid out and created up front (header written, file sized),
 * so tensors can be written at their final offsets in any order and by several threads at once. Files live
 * in a temporary sibling folder `<out>.partial-XXXXXX`, marked unfinished, until commit() renames it into
 * place (atomic-output.ts: destination checks, the output's lock, replacement). A shard is written as
 * `<shard>.incomplete` and gets its final name only once complete and fsynced, so no file in the folder ever
 * looks like a finished shard while it is not. With resume enabled, a checksum of each tensor is recorded as
 * each shard completes, and a later run with the same fingerprint continues from the shards that still verify.
 */
import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { ExecError, SafetensorsError } from "../errors.js";
import { AtomicOutput } from "./atomic-output.js";
import { fsyncFile, writeWholeFile } from "./durable.js";
import { formatIndexJson, INDEX_FILE_NAME } from "./index-json.js";
import { type FileLayout, type LayoutEntry, layoutTensors, planShards, shardFileName, tensorByteLength } from "./layout.js";
import type { GuardedInput, OutputGuardOptions } from "./output-guard.js";
import { findPartial, PROGRESS_FILE, type Progress, prunePartial, saveProgress, shardMatches } from "./resume-progress.js";
import { INCOMPLETE_SUFFIX, type ShardPlan } from "./sharded-writer.js";
import { writeAt, writeError } from "./writer.js";

export { PROGRESS_FILE } from "./resume-progress.js";

interface OutputFolderOptions extends OutputGuardOptions {
	maxShardBytes: number;
	/** Input folders and files the output may not overlap (see output-guard.ts). */
	inputs?: readonly GuardedInput[];
	/** Extra `__metadata__` for every shard, next to `format: "pt"`. */
	metadata?: Record<string, string>;
	force?: boolean;
	indexMetadata?: Record<string, unknown>;
	/** Enable resume: identifies the merge (recipe, inputs, seed, layout); partial folders with another one are refused. */
	resume?: { fingerprint: string };
	/** Name of the weights file when everything fits in one shard (default model.safetensors; PEFT adapters use adapter_model.safetensors). */
	singleFileName?: string;
}

/** Where one tensor's bytes go. */
interface TensorTarget {
	name: string;
	file: string;
	position: number;
	dtype: LayoutEntry["dtype"];
	byteLength: number;
	shard: number;
}

export class OutputFolder {
	readonly shards: readonly ShardPlan[];
	readonly totalSize: number;
	/** Tensors already present and verified (resume); the executor skips them. */
	readonly done = new Set<string>();
	private readonly targets = new Map<string, TensorTarget>();
	private readonly remaining: number[];
	private readonly hashes: Map<string, string>[];
	private readonly extraFiles = new Set<string>();
	/**
	 * Per shard being written: a handle opened when the shard was created (so it sees every later writeback
	 * error), the chain of background flushes, and whether one is already queued.
	 */
	private readonly flushers: ({ handle: FileHandle; chain: Promise<void>; queued: boolean } | undefined)[] = [];
	private state: "open" | "committed" | "closed" = "open";
	readonly tempDir: string;

	private constructor(
		readonly outDir: string,
		private readonly atomic: AtomicOutput,
		private readonly layouts: FileLayout[],
		shards: ShardPlan[],
		private readonly opts: OutputFolderOptions,
		private readonly progress: Progress | undefined,
	) {
		this.tempDir = atomic.temp;
		const tempDir = atomic.temp;
		this.shards = shards;
		this.totalSize = layouts.reduce((n, l) => n + l.tensors.reduce((m, t) => m + t.byteLength, 0), 0);
		this.remaining = layouts.map((l) => l.tensors.length);
		this.hashes = layouts.map(() => new Map());
		layouts.forEach((l, s) => {
			for (const t of l.tensors) {
				this.targets.set(t.name, {
					name: t.name,
					file: join(tempDir, shards[s]!.file + INCOMPLETE_SUFFIX),
					position: l.dataStart + t.byteOffset,
					dtype: t.dtype,
					byteLength: t.byteLength,
					shard: s,
				});
			}
		});
	}

	/**
	 * Lays out the shards, then takes the destination (checks, lock) with a fresh temporary folder, or with resume
	 * the partial folder an earlier run of the same merge left.
	 */
	static async create(outDir: string, entries: readonly LayoutEntry[], opts: OutputFolderOptions): Promise<OutputFolder> {
		const out = resolve(outDir);
		const metadata = { format: "pt", ...opts.metadata };
		const sizes = entries.map((e) => tensorByteLength(e, out));
		const plan = planShards(
			sizes.map((byteLength) => ({ byteLength })),
			opts.maxShardBytes,
		);
		const fileName = (s: number) =>
			plan.length === 1 && opts.singleFileName !== undefined ? opts.singleFileName : shardFileName(s + 1, plan.length);
		const layouts = plan.map((idx, s) =>
			layoutTensors(
				idx.map((i) => entries[i]!),
				metadata,
				{ file: join(out, fileName(s)) },
			),
		);
		const shards = plan.map(
			(idx, s): ShardPlan => ({ file: fileName(s), tensors: idx.map((i) => entries[i]!.name), bytes: layouts[s]!.fileSize }),
		);
		let progress: Progress | undefined;
		const atomic = await AtomicOutput.begin(outDir, {
			kind: "folder",
			force: opts.force ?? false,
			...(opts.inputs !== undefined ? { inputs: opts.inputs } : {}),
			...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
			...(opts.protect !== undefined ? { protect: opts.protect } : {}),
			...(opts.resume !== undefined
				? {
						reuse: async (leftovers: readonly string[]) => {
							const found = await findPartial(leftovers, opts.resume!.fingerprint);
							progress = found?.progress ?? { version: 1, fingerprint: opts.resume!.fingerprint, shards: {} };
							// Only this layout's files stay: an adopted folder may hold another layout's shards.
							if (found !== undefined) await prunePartial(found.dir, new Set(shards.flatMap((s) => [s.file, s.file + INCOMPLETE_SUFFIX])));
							return found?.dir;
						},
					}
				: {}),
		});
		const folder = new OutputFolder(out, atomic, layouts, shards, opts, progress);
		try {
			for (let s = 0; s < shards.length; s++) {
				if (progress !== undefined && (await folder.verifyShard(s))) continue;
				await folder.createShard(s);
			}
			if (progress !== undefined) await folder.saveProgress();
		} catch (err) {
			await folder.close(false);
			throw err;
		}
		return folder;
	}

	/** What the user should know about the destination (leftovers of earlier runs, an old output restored, ...). */
	get notes(): readonly string[] {
		return this.atomic.notes;
	}

	/** Where `name` must be written. */
	target(name: string): TensorTarget {
		const t = this.targets.get(name);
		if (t === undefined) throw new SafetensorsError("TensorNotFound", this.outDir, "is not part of the output", name);
		return t;
	}

	/** Whether per-tensor checksums are wanted (resume enabled). */
	get hashing(): boolean {
		return this.progress !== undefined;
	}

	/**
	 * Records that `name` was written (with its checksum when resuming). When that completes a shard, the
	 * shard is fsynced and given its final name, its checksums are saved, and its file name and size are returned.
	 */
	async tensorWritten(name: string, hash?: string): Promise<{ file: string; bytes: number } | undefined> {
		const t = this.target(name);
		if (hash !== undefined) this.hashes[t.shard]!.set(name, hash);
		if (--this.remaining[t.shard]! > 0) {
			this.flushSoon(t.shard);
			return undefined;
		}
		const file = join(this.tempDir, this.shards[t.shard]!.file + INCOMPLETE_SUFFIX);
		const flusher = this.flushers[t.shard];
		this.flushers[t.shard] = undefined;
		if (flusher === undefined) await fsyncFile(file);
		else {
			try {
				await flusher.chain;
				await flusher.handle.sync();
			} catch (err) {
				throw writeError(file, "flushing the file to disk", err);
			} finally {
				await flusher.handle.close().catch(() => undefined);
			}
		}
		try {
			await rename(file, join(this.tempDir, this.shards[t.shard]!.file));
		} catch (err) {
			throw writeError(file, "giving the finished shard its name", err);
		}
		if (this.progress !== undefined) {
			this.progress.shards[this.shards[t.shard]!.file] = Object.fromEntries(this.hashes[t.shard]!);
			await this.saveProgress();
		}
		return { file: this.shards[t.shard]!.file, bytes: this.shards[t.shard]!.bytes };
	}

	async writeFile(relName: string, data: Uint8Array | string): Promise<void> {
		if (relName === "" || /[/\\\0]/.test(relName) || basename(relName) !== relName || relName.startsWith(".")) {
			throw new ExecError("Io", `${this.outDir}: cannot write "${relName}": extra files must be plain file names`);
		}
		await writeWholeFile(join(this.tempDir, relName), typeof data === "string" ? new TextEncoder().encode(data) : data);
		this.extraFiles.add(relName);
	}

	get files(): string[] {
		return [...this.shards.map((s) => s.file), ...(this.shards.length > 1 ? [INDEX_FILE_NAME] : []), ...this.extraFiles];
	}

	/** Checks every tensor was written, writes the index, fsyncs, and renames the folder into place. */
	async commit(): Promise<void> {
		const missing = this.remaining.findIndex((n) => n > 0);
		if (missing >= 0) {
			throw new SafetensorsError(
				"MetadataIncompleteBuffer",
				this.outDir,
				`commit() with ${this.remaining[missing]} tensor(s) of ${this.shards[missing]!.file} not written`,
			);
		}
		if (this.shards.length > 1) {
			const weightMap = new Map(this.shards.flatMap((s) => s.tensors.map((t) => [t, s.file] as const)));
			await writeWholeFile(
				join(this.tempDir, INDEX_FILE_NAME),
				new TextEncoder().encode(formatIndexJson(this.totalSize, weightMap, this.opts.indexMetadata ?? {})),
			);
		}
		await this.closeFlushers();
		// A shard without tensors (only in an output without any) was never completed by tensorWritten.
		for (let s = 0; s < this.shards.length; s++) {
			if (this.layouts[s]!.tensors.length > 0) continue;
			const file = join(this.tempDir, this.shards[s]!.file);
			await fsyncFile(file + INCOMPLETE_SUFFIX);
			await rename(file + INCOMPLETE_SUFFIX, file);
		}
		await rm(join(this.tempDir, PROGRESS_FILE), { force: true });
		await this.atomic.commit();
		this.state = "committed";
	}

	/**
	 * Starts writing a shard's data to the disk in the background (fdatasync), so the disk writes while the merge
	 * reads and computes instead of all at the final fsync: the kernel would otherwise hold the dirty pages until
	 * memory pressure or its 30-second timer. At most one flush runs and one waits per shard; an error surfaces at
	 * the shard's final fsync.
	 */
	private flushSoon(shard: number): void {
		const f = this.flushers[shard];
		if (f === undefined || f.queued) return;
		f.queued = true;
		f.chain = f.chain.then(async () => {
			f.queued = false;
			await f.handle.datasync();
		});
		f.chain.catch(() => undefined);
	}

	private async closeFlushers(): Promise<void> {
		const open = this.flushers.splice(0);
		await Promise.all(
			open.map(async (f) => {
				if (f === undefined) return;
				await f.chain.catch(() => undefined);
				await f.handle.close().catch(() => undefined);
			}),
		);
	}

	/** Ends an unfinished merge: removes the partial folder, or with `keep` leaves it (marked unfinished) for `--resume`. */
	async close(keep: boolean): Promise<void> {
		if (this.state !== "open") return;
		this.state = "closed";
		await this.closeFlushers();
		await this.atomic.abort(keep);
	}

	private async createShard(s: number): Promise<void> {
		const file = join(this.tempDir, this.shards[s]!.file + INCOMPLETE_SUFFIX);
		// A shard of an earlier run that was not recorded complete (or no longer verifies) is redone from scratch.
		if (this.progress !== undefined) delete this.progress.shards[this.shards[s]!.file];
		await rm(join(this.tempDir, this.shards[s]!.file), { force: true });
		let handle: FileHandle;
		try {
			handle = await open(file, "w");
		} catch (err) {
			throw writeError(file, "creating the file", err);
		}
		try {
			await writeAt(handle, this.layouts[s]!.header, 0, file);
			await handle.truncate(this.layouts[s]!.fileSize);
		} catch (err) {
			await handle.close();
			throw writeError(file, "sizing the file", err);
		}
		// Kept open for the background flushes and the final fsync.
		this.flushers[s] = { handle, chain: Promise.resolve(), queued: false };
	}

	/** A shard recorded complete whose header and tensor checksums still match counts as done. */
	private async verifyShard(s: number): Promise<boolean> {
		const recorded = this.progress?.shards[this.shards[s]!.file];
		const layout = this.layouts[s]!;
		if (recorded === undefined || !(await shardMatches(join(this.tempDir, this.shards[s]!.file), layout, recorded))) return false;
		for (const t of layout.tensors) {
			this.done.add(t.name);
			this.hashes[s]!.set(t.name, recorded[t.name]!);
		}
		this.remaining[s] = 0;
		return true;
	}

	private async saveProgress(): Promise<void> {
		if (this.progress !== undefined) await saveProgress(this.tempDir, this.progress);
	}
}
