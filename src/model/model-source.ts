import { SafetensorsError } from "../errors.js";
import type { TensorInfo, TensorSource } from "../io/types.js";
import type { Tensor } from "../tensor/tensor.js";
import type { ModelConfig } from "./config.js";

/** A whole model: every tensor of its weight file(s), plus what the folder says about the model. */
export interface ModelSource extends TensorSource {
	/** Absolute path of the model folder (for a single file given directly: its folder). */
	readonly dir: string;
	/** Absolute paths of the weight files, in order (one entry, or the shards sorted by name). */
	readonly files: string[];
	/** The index file, when the weights are sharded. */
	readonly indexFile: string | undefined;
	/** The typed view of a Llama/Mistral-family config.json, or undefined (no config.json, or another family's). */
	readonly config: ModelConfig | undefined;
	/**
	 * The folder's config.json as read (any family), or undefined when it has none. Optional so that other sources
	 * need only `config`; read it through configJsonOf().
	 */
	readonly rawConfig?: Record<string, unknown> | undefined;
	/** Sum of the tensors' data bytes (what the index's `metadata.total_size` records). */
	readonly totalBytes: number;
}

/** A model's config.json as read: `rawConfig`, else the typed view's `raw`, else undefined. */
export function configJsonOf(source: ModelSource): Record<string, unknown> | undefined {
	return source.rawConfig ?? source.config?.raw;
}

/** A TensorSource over several open weight files (safetensors or PyTorch `.bin`), each tensor owned by exactly one of them. */
export class MultiFileSource implements ModelSource {
	readonly files: string[];
	readonly totalBytes: number;
	private readonly owner: Map<string, TensorSource>;

	/** `shards` are open and validated; `owner` maps every tensor name to the shard holding it. */
	constructor(
		readonly location: string,
		readonly dir: string,
		private readonly shards: TensorSource[],
		readonly indexFile: string | undefined,
		readonly config: ModelConfig | undefined,
		readonly rawConfig: Record<string, unknown> | undefined = config?.raw,
	) {
		this.files = shards.map((s) => s.location);
		this.owner = new Map();
		let total = 0;
		for (const shard of shards) {
			for (const name of shard.names()) {
				this.owner.set(name, shard);
				total += shard.info(name).byteLength;
			}
		}
		this.totalBytes = total;
	}

	names(): string[] {
		return this.shards.flatMap((s) => s.names());
	}

	has(name: string): boolean {
		return this.owner.has(name);
	}

	info(name: string): TensorInfo {
		return this.shardOf(name).info(name);
	}

	fileOf(name: string): string {
		return this.shardOf(name).location;
	}

	metadata(): Record<string, string> {
		return this.shards[0]?.metadata() ?? {};
	}

	read(name: string): Promise<Tensor> {
		return this.shardOf(name).read(name);
	}

	readRows(name: string, rowStart: number, rowEnd: number): Promise<Tensor> {
		return this.shardOf(name).readRows(name, rowStart, rowEnd);
	}

	readRaw(name: string, start?: number, end?: number, into?: Uint8Array): Promise<Uint8Array> {
		return this.shardOf(name).readRaw(name, start, end, into);
	}

	/** A direct read where the shard offers one (safetensors), else an ordinary read into the start of `scratch`. */
	async readRawAligned(name: string, start: number, end: number, scratch: Uint8Array): Promise<Uint8Array> {
		const shard = this.shardOf(name);
		if (shard.readRawAligned !== undefined) return shard.readRawAligned(name, start, end, scratch);
		return shard.readRaw(name, start, end, scratch.subarray(0, end - start));
	}

	/** Closes every shard, even when one fails; the first failure is rethrown. */
	async close(): Promise<void> {
		const results = await Promise.allSettled(this.shards.map((s) => s.close()));
		const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
		if (failed !== undefined) throw failed.reason;
	}

	private shardOf(name: string): TensorSource {
		const shard = this.owner.get(name);
		if (shard === undefined) {
			throw new SafetensorsError("TensorNotFound", this.location, "no tensor with this name in the model", name);
		}
		return shard;
	}
}
