/**
 * The executor's output folder: every shard is laid out and created up front (header written, file sized),
 * so tensors can be written at their final offsets in any order and by several threads at once. Files live
 * in a temporary sibling folder `<out>.partial-XXXXXX` until commit() renames it into place. With resume
 * enabled, a checksum of each tensor is recorded as each shard completes, and a later run with the same
 * fingerprint continues from the shards that still verify.
 */
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { ExecError, SafetensorsError } from "../errors.js";
import { Checksum } from "./checksum.js";
import { formatIndexJson, INDEX_FILE_NAME } from "./index-json.js";
import { layoutTensors, planShards, shardFileName, tensorByteLength, type FileLayout, type LayoutEntry } from "./layout.js";
import { checkOutDir, replaceDir, syncDir, writeWholeFile, type ShardPlan } from "./sharded-writer.js";
import { writeAt, writeError } from "./writer.js";

/** Progress record kept inside the partial folder when resume is enabled (removed before commit). */
export const PROGRESS_FILE = ".lm-merge-progress.json";

/** Largest read used to verify a shard on resume. */
const VERIFY_CHUNK_BYTES = 16 * 2 ** 20;

export interface OutputFolderOptions {
	maxShardBytes: number;
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
export interface TensorTarget {
	name: string;
	file: string;
	position: number;
	dtype: LayoutEntry["dtype"];
	byteLength: number;
	shard: number;
}

interface Progress {
	version: 1;
	fingerprint: string;
	shards: Record<string, Record<string, string>>;
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

	private constructor(
		readonly outDir: string,
		readonly tempDir: string,
		private readonly layouts: FileLayout[],
		shards: ShardPlan[],
		private readonly opts: OutputFolderOptions,
		private readonly progress: Progress | undefined,
	) {
		this.shards = shards;
		this.totalSize = layouts.reduce((n, l) => n + l.tensors.reduce((m, t) => m + t.byteLength, 0), 0);
		this.remaining = layouts.map((l) => l.tensors.length);
		this.hashes = layouts.map(() => new Map());
		layouts.forEach((l, s) => {
			for (const t of l.tensors) {
				this.targets.set(t.name, { name: t.name, file: join(tempDir, shards[s]!.file), position: l.dataStart + t.byteOffset, dtype: t.dtype, byteLength: t.byteLength, shard: s });
			}
		});
	}

	/** Lays out the shards, then creates a fresh temporary folder, or with resume reuses a matching partial one. */
	static async create(outDir: string, entries: readonly LayoutEntry[], opts: OutputFolderOptions): Promise<OutputFolder> {
		const out = resolve(outDir);
		const metadata = { format: "pt", ...opts.metadata };
		const sizes = entries.map((e) => tensorByteLength(e, out));
		const plan = planShards(sizes.map((byteLength) => ({ byteLength })), opts.maxShardBytes);
		const fileName = (s: number) => (plan.length === 1 && opts.singleFileName !== undefined ? opts.singleFileName : shardFileName(s + 1, plan.length));
		const layouts = plan.map((idx, s) => layoutTensors(idx.map((i) => entries[i]!), metadata, { file: join(out, fileName(s)) }));
		const shards = plan.map((idx, s): ShardPlan => ({ file: fileName(s), tensors: idx.map((i) => entries[i]!.name), bytes: layouts[s]!.fileSize }));
		await checkOutDir(out, opts.force ?? false);
		const resumable = opts.resume !== undefined ? await findPartial(out, opts.resume.fingerprint) : undefined;
		let temp = resumable?.dir;
		if (temp === undefined) {
			try {
				await mkdir(dirname(out), { recursive: true });
				temp = await mkdtemp(`${out}.partial-`);
			} catch (err) {
				throw writeError(out, "creating the temporary output folder", err);
			}
		}
		const progress: Progress | undefined = opts.resume !== undefined ? (resumable?.progress ?? { version: 1, fingerprint: opts.resume.fingerprint, shards: {} }) : undefined;
		const folder = new OutputFolder(out, temp, layouts, shards, opts, progress);
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
	 * shard is fsynced, its checksums are saved, and its file name and size are returned.
	 */
	async tensorWritten(name: string, hash?: string): Promise<{ file: string; bytes: number } | undefined> {
		const t = this.target(name);
		if (hash !== undefined) this.hashes[t.shard]!.set(name, hash);
		if (--this.remaining[t.shard]! > 0) {
			this.flushSoon(t.shard);
			return undefined;
		}
		const file = join(this.tempDir, this.shards[t.shard]!.file);
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
			throw new SafetensorsError("MetadataIncompleteBuffer", this.outDir, `commit() with ${this.remaining[missing]} tensor(s) of ${this.shards[missing]!.file} not written`);
		}
		if (this.shards.length > 1) {
			const weightMap = new Map(this.shards.flatMap((s) => s.tensors.map((t) => [t, s.file] as const)));
			await writeWholeFile(join(this.tempDir, INDEX_FILE_NAME), new TextEncoder().encode(formatIndexJson(this.totalSize, weightMap, this.opts.indexMetadata ?? {})));
		}
		await this.closeFlushers();
		await rm(join(this.tempDir, PROGRESS_FILE), { force: true });
		await syncDir(this.tempDir);
		await replaceDir(this.tempDir, this.outDir, this.opts.force ?? false);
		this.state = "committed";
		await syncDir(dirname(this.outDir));
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
		await Promise.all(open.map(async (f) => {
			if (f === undefined) return;
			await f.chain.catch(() => undefined);
			await f.handle.close().catch(() => undefined);
		}));
	}

	/** Ends an unfinished merge: removes the partial folder, or with `keep` leaves it for `--resume`. */
	async close(keep: boolean): Promise<void> {
		if (this.state !== "open") return;
		this.state = "closed";
		await this.closeFlushers();
		if (!keep) await rm(this.tempDir, { recursive: true, force: true });
	}

	private async createShard(s: number): Promise<void> {
		const file = join(this.tempDir, this.shards[s]!.file);
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
		if (this.progress !== undefined) delete this.progress.shards[this.shards[s]!.file];
	}

	/** A shard recorded complete whose header and tensor checksums still match counts as done. */
	private async verifyShard(s: number): Promise<boolean> {
		const recorded = this.progress?.shards[this.shards[s]!.file];
		const layout = this.layouts[s]!;
		if (recorded === undefined || Object.keys(recorded).length !== layout.tensors.length) return false;
		const file = join(this.tempDir, this.shards[s]!.file);
		let handle: FileHandle;
		try {
			handle = await open(file, "r");
		} catch {
			return false;
		}
		try {
			if ((await handle.stat()).size !== layout.fileSize) return false;
			const header = new Uint8Array(layout.header.byteLength);
			await handle.read(header, 0, header.byteLength, 0);
			if (!Buffer.from(header).equals(Buffer.from(layout.header))) return false;
			const buf = new Uint8Array(Math.min(VERIFY_CHUNK_BYTES, Math.max(1, ...layout.tensors.map((t) => t.byteLength))));
			for (const t of layout.tensors) {
				const sum = new Checksum();
				for (let done = 0; done < t.byteLength; ) {
					const n = Math.min(buf.byteLength, t.byteLength - done);
					const { bytesRead } = await handle.read(buf, 0, n, layout.dataStart + t.byteOffset + done);
					if (bytesRead !== n) return false;
					sum.update(buf.subarray(0, n));
					done += n;
				}
				if (sum.digest() !== recorded[t.name]) return false;
			}
		} finally {
			await handle.close();
		}
		for (const t of layout.tensors) {
			this.done.add(t.name);
			this.hashes[s]!.set(t.name, recorded[t.name]!);
		}
		this.remaining[s] = 0;
		return true;
	}

	private async saveProgress(): Promise<void> {
		const tmp = join(this.tempDir, `${PROGRESS_FILE}.tmp`);
		await writeWholeFile(tmp, new TextEncoder().encode(JSON.stringify(this.progress)));
		await rename(tmp, join(this.tempDir, PROGRESS_FILE));
	}
}

async function fsyncFile(file: string): Promise<void> {
	try {
		const h = await open(file, "r+");
		try {
			await h.sync();
		} finally {
			await h.close();
		}
	} catch (err) {
		throw writeError(file, "flushing the file to disk", err);
	}
}

/**
 * The partial folder of an earlier run of the same merge, if one exists. A partial folder that records a
 * different merge (recipe, inputs, seed, layout) is refused rather than silently mixed in.
 */
async function findPartial(out: string, fingerprint: string): Promise<{ dir: string; progress: Progress } | undefined> {
	const parent = dirname(out);
	const prefix = `${basename(out)}.partial-`;
	let names: string[];
	try {
		names = (await readdir(parent)).filter((n) => n.startsWith(prefix)).sort();
	} catch {
		return undefined;
	}
	const stale: string[] = [];
	for (const name of names) {
		const dir = join(parent, name);
		let progress: Progress;
		try {
			progress = JSON.parse(await readFile(join(dir, PROGRESS_FILE), "utf8")) as Progress;
		} catch {
			continue; // not resumable (no progress record): ignore
		}
		if (progress.version === 1 && progress.fingerprint === fingerprint && typeof progress.shards === "object") return { dir, progress };
		stale.push(dir);
	}
	if (stale.length > 0) {
		throw new ExecError(
			"ResumeMismatch",
			`${stale[0]} holds a partial merge with a different recipe, inputs, seed or shard size; delete it, or run without --resume to start over`,
		);
	}
	return undefined;
}
