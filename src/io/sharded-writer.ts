/**
 * Writes a whole output model folder atomically (atomic-output.ts): every file goes into a temporary sibling
 * folder `<outDir>.partial-XXXXXX` marked unfinished, and only `commit()` makes it appear at `outDir`. Each shard
 * is written as `<shard>.incomplete` and gets its final name only once it is complete and fsynced. A crash or
 * `abort()` therefore never leaves a half-written model where a complete one is expected, nor a shard file that
 * looks complete. Shards are laid out up front (layout.ts) and streamed in plan order.
 */
import { rename } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { ExecError, SafetensorsError } from "../errors.js";
import { AtomicOutput } from "./atomic-output.js";
import { writeWholeFile } from "./durable.js";
import { formatIndexJson, INDEX_FILE_NAME } from "./index-json.js";
import { type LayoutEntry, layoutTensors, planShards, shardFileName, tensorByteLength } from "./layout.js";
import { SafetensorsWriter, writeError } from "./writer.js";

/** Suffix of a shard file while it is being written; it is renamed to its final name once complete and fsynced. */
export const INCOMPLETE_SUFFIX = ".incomplete";

/** Options of ShardedWriter.create. */
interface ShardedWriterOptions {
	/** Shard size limit in bytes (see planShards; parseSize turns "5GB" into bytes). */
	maxShardBytes: number;
	/** Extra `__metadata__` for every shard, next to `format: "pt"`. */
	metadata?: Record<string, string>;
	/** Replace an existing non-empty `outDir` (it is removed only after the new folder is in place). */
	force?: boolean;
	/** Extra keys for the index's `metadata`, after `total_size`. */
	indexMetadata?: Record<string, unknown>;
}

/** One planned shard: its final file name and the names of its tensors, in write order. */
export interface ShardPlan {
	file: string;
	tensors: string[];
	/** Final size of the shard file in bytes. */
	bytes: number;
}

/** Files that writeFile may not create, because the writer produces them itself. */
const RESERVED_FILE = /^model(-\d+-of-\d+)?\.safetensors(\.index\.json)?$/;

/** Streams an output model folder: shards, index and extra files, committed atomically. */
export class ShardedWriter {
	/** The shards in write order. */
	readonly shards: readonly ShardPlan[];
	/** Sum of all tensor data bytes (the index's `total_size`). */
	readonly totalSize: number;
	private readonly entries: readonly LayoutEntry[];
	private readonly shardOf: number[];
	private next = 0;
	private current: SafetensorsWriter | undefined;
	private currentShard = -1;
	private readonly extraFiles = new Set<string>();
	private state: "open" | "committed" | "aborted" = "open";

	/** The temporary folder that receives every file until commit(). */
	readonly tempDir: string;

	private constructor(
		readonly outDir: string,
		private readonly target: AtomicOutput,
		entries: readonly LayoutEntry[],
		private readonly plan: number[][],
		shards: ShardPlan[],
		totalSize: number,
		private readonly metadata: Record<string, string>,
		private readonly indexMetadata: Record<string, unknown>,
	) {
		this.tempDir = target.temp;
		this.entries = entries;
		this.shards = shards;
		this.totalSize = totalSize;
		this.shardOf = new Array<number>(entries.length);
		for (const [s, indices] of plan.entries()) for (const i of indices) this.shardOf[i] = s;
	}

	/**
	 * Plans the shards of `entries` (name, dtype, shape, in output order) and creates the temporary folder.
	 * Refuses an existing non-empty `outDir` without `force` (PlanError "OutputExists"), and bad names,
	 * shapes or metadata (SafetensorsError) before anything is written.
	 */
	static async create(outDir: string, entries: readonly LayoutEntry[], opts: ShardedWriterOptions): Promise<ShardedWriter> {
		const out = resolve(outDir);
		const metadata = { format: "pt", ...opts.metadata };
		const seen = new Set<string>();
		for (const e of entries) {
			if (seen.has(e.name)) {
				throw new SafetensorsError("DuplicateTensor", out, "appears twice in the output tensor list", e.name);
			}
			seen.add(e.name);
		}
		const sizes = entries.map((e) => tensorByteLength(e, out));
		const plan = planShards(
			sizes.map((byteLength) => ({ byteLength })),
			opts.maxShardBytes,
		);
		const shards = plan.map((indices, s): ShardPlan => {
			const file = shardFileName(s + 1, plan.length);
			const layout = layoutTensors(
				indices.map((i) => entries[i]!),
				metadata,
				{ file: join(out, file) },
			);
			return { file, tensors: indices.map((i) => entries[i]!.name), bytes: layout.fileSize };
		});
		const totalSize = sizes.reduce((a, b) => a + b, 0);
		const target = await AtomicOutput.begin(outDir, { kind: "folder", force: opts.force ?? false });
		return new ShardedWriter(out, target, entries, plan, shards, totalSize, metadata, opts.indexMetadata ?? {});
	}

	/** Name of the tensor writeTensor expects next, or undefined when all were written. */
	get expected(): string | undefined {
		return this.entries[this.next]?.name;
	}

	/**
	 * Writes the next tensor in plan order (see SafetensorsWriter.writeTensor). When it completes a shard,
	 * that shard is flushed and closed, and its final file name and size are returned.
	 */
	async writeTensor(name: string, data: Float32Array | Uint8Array): Promise<{ file: string; bytes: number } | undefined> {
		this.assertOpen();
		const expected = this.entries[this.next];
		if (expected === undefined || expected.name !== name) {
			const where = expected === undefined ? "every tensor was already written" : `expected "${expected.name}" next (plan order)`;
			const known = this.entries.some((e) => e.name === name);
			throw new SafetensorsError(known ? "InvalidOffset" : "TensorNotFound", this.outDir, `cannot write now: ${where}`, name);
		}
		const shard = this.shardOf[this.next]!;
		const writer = await this.writerFor(shard);
		await writer.writeTensor(name, data);
		this.next++;
		if (writer.expected === undefined) {
			return this.closeShard();
		}
		return undefined;
	}

	/** Adds a file (config.json, README.md …) to the output; `relName` must be a plain file name. */
	async writeFile(relName: string, data: Uint8Array | string): Promise<void> {
		this.assertOpen();
		if (relName === "" || relName === "." || relName === ".." || /[/\\\0]/.test(relName) || basename(relName) !== relName) {
			throw new ExecError("Io", `${this.outDir}: cannot write "${relName}": extra files must be plain file names inside the output folder`);
		}
		if (RESERVED_FILE.test(relName)) {
			throw new ExecError("Io", `${this.outDir}: cannot write "${relName}": the weights and their index are written by the writer itself`);
		}
		await writeWholeFile(join(this.tempDir, relName), typeof data === "string" ? new TextEncoder().encode(data) : data);
		this.extraFiles.add(relName);
	}

	/** Files the committed folder will contain (shards, index, extra files), by name. */
	get files(): string[] {
		const index = this.shards.length > 1 ? [INDEX_FILE_NAME] : [];
		return [...this.shards.map((s) => s.file), ...index, ...this.extraFiles];
	}

	/**
	 * Checks that every tensor was written, writes empty shards and the index (when there is more than one
	 * shard), fsyncs the folder and renames it to `outDir`, replacing an old folder only when allowed.
	 */
	async commit(): Promise<void> {
		this.assertOpen();
		const missing = this.entries[this.next];
		if (missing !== undefined) {
			throw new SafetensorsError(
				"MetadataIncompleteBuffer",
				this.outDir,
				`commit() with ${this.entries.length - this.next} tensor(s) not written, starting with "${missing.name}"`,
			);
		}
		// Shards without tensors (only possible when there are no tensors at all) still get a file.
		for (let s = this.currentShard + 1; s < this.shards.length; s++) {
			await this.writerFor(s);
			await this.closeShard();
		}
		if (this.shards.length > 1) {
			const weightMap = new Map(this.shards.flatMap((s) => s.tensors.map((t) => [t, s.file] as const)));
			await writeWholeFile(
				join(this.tempDir, INDEX_FILE_NAME),
				new TextEncoder().encode(formatIndexJson(this.totalSize, weightMap, this.indexMetadata)),
			);
		}
		await this.target.commit();
		this.state = "committed";
	}

	/** Removes the temporary folder and everything written so far. Safe to call more than once. */
	async abort(): Promise<void> {
		if (this.state !== "open") {
			return;
		}
		this.state = "aborted";
		await this.current?.abort();
		this.current = undefined;
		await this.target.abort();
	}

	private async writerFor(shard: number): Promise<SafetensorsWriter> {
		if (this.current === undefined || this.currentShard !== shard) {
			const indices = this.plan[shard]!;
			this.currentShard = shard;
			const file = join(this.tempDir, this.shards[shard]!.file + INCOMPLETE_SUFFIX);
			this.current = await SafetensorsWriter.create(
				file,
				indices.map((i) => this.entries[i]!),
				this.metadata,
			);
		}
		return this.current;
	}

	private async closeShard(): Promise<{ file: string; bytes: number }> {
		const writer = this.current!;
		this.current = undefined;
		await writer.finish();
		const plan = this.shards[this.currentShard]!;
		const final = join(this.tempDir, plan.file);
		try {
			await rename(final + INCOMPLETE_SUFFIX, final);
		} catch (err) {
			throw writeError(final, "giving the finished shard its name", err);
		}
		return { file: plan.file, bytes: plan.bytes };
	}

	private assertOpen(): void {
		if (this.state !== "open") {
			throw new ExecError("Io", `${this.outDir}: the output writer was already ${this.state}`);
		}
	}
}
