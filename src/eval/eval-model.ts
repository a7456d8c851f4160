import { freemem } from "node:os";
import { EvaluationError } from "../errors.js";
import type { TensorSource } from "../io/types.js";
import type { ModelConfig } from "../model/config.js";
import { openModel } from "../model/model-dir.js";
import { configJsonOf } from "../model/model-source.js";
import { float32WeightBytes, type MistralConfig, toMistralConfig } from "./mistral-config.js";
import { commonPrefixLength, type SequenceRequest } from "./model/batch.js";
import { createRunState, type RunState } from "./model/run-state.js";
import { createPrefixCache, disposePrefixCache, type PrefixCache, runSequences, type WeightProvider } from "./model/scheduler.js";
import { type Device, initTfjs, type Tf } from "./tfjs-backend.js";
import {
	disposeHeadWeights,
	disposeLayerWeights,
	disposeMistralWeights,
	loadEmbeddings,
	loadHeadWeights,
	loadLayerWeights,
	loadMistralWeights,
} from "./weights.js";

/** Prompts packed into one batch by default: enough rows for efficient products on short prompts. */
const DEFAULT_BATCH_SIZE = 8;

/**
 * Rows (tokens) per packed batch: bounds the MLP activations (3 × rows × intermediate floats, about 350 MB
 * for a 7B model) that sit next to one layer's weights inside tfjs-wasm's 4 GB heap.
 */
const MAX_BATCH_ROWS = 2048;

/**
 * Streaming mode carries this many bytes of hidden states (rows × hidden × 4) through the layers per weight
 * pass: 256 MB is 16k tokens of a 4096-wide model, so reading the weights again per wave costs far less
 * than the wave's compute, and the states still fit beside a layer in the wasm heap.
 */
const STREAM_WAVE_BYTES = 256 * 2 ** 20;

/**
 * Resident float32 weights above which the wasm backend must stream: its heap stops at 4 GB and XNNPACK keeps
 * a packed copy of every weight it multiplies by, so 1.5 GB of weights already needs about 3 GB.
 */
export const WASM_RESIDENT_LIMIT = 1.5 * 2 ** 30;

/** How `loadEvalModel` places the weights: all resident, one layer at a time, or chosen from the memory budget. */
type StreamingMode = boolean | "auto";

interface EvalModelOptions {
	/** tfjs backend (see initTfjs); default "auto". */
	device?: Device;
	/** Layer-streaming: true, false, or "auto" (default): on when the float32 weights would not fit. */
	streaming?: StreamingMode;
	/** Memory budget for "auto"; default half of os.freemem(). */
	maxMemoryBytes?: number;
}

interface ScoreOptions {
	/** Tokens every request starts with: computed once, its keys and values reused (a KV cache). */
	sharedPrefix?: readonly number[];
	/** Prompts per packed batch (default DEFAULT_BATCH_SIZE). */
	batchSize?: number;
	onProgress?: (done: number, total: number) => void;
	/** Stops between batches once aborted. */
	signal?: AbortSignal;
}

/** A sequence and the positions whose log-probabilities are wanted (see logprobsAt). */
interface PositionRequest {
	tokens: readonly number[];
	/** Ascending indices into `tokens`. */
	positions: readonly number[];
}

interface ContinuationRequest {
	context: readonly number[];
	continuation: readonly number[];
}

interface ContinuationScore {
	/** Σ log p(continuation token | everything before it). */
	logprob: number;
	/** Every continuation token is the arg-max of its position's distribution. */
	isGreedy: boolean;
}

/** A loaded model ready to score prompts. */
export interface EvalModel {
	readonly config: MistralConfig;
	/** "wasm", "cpu", "tensorflow", ... */
	readonly backend: string;
	readonly streaming: boolean;
	/** Logits at the last position of each prompt ([vocab] each, raw, not softmaxed). */
	lastLogits(prompts: readonly (readonly number[])[], opts?: ScoreOptions): Promise<Float32Array[]>;
	/** Log-likelihood of each continuation after its context (the lm-evaluation-harness `loglikelihood`). */
	continuationLogprobs(reqs: readonly ContinuationRequest[], opts?: ScoreOptions): Promise<ContinuationScore[]>;
	/** Log-softmax rows at each request's positions, delivered per request as its batch finishes. */
	logprobsAt(reqs: readonly PositionRequest[], opts: ScoreOptions & { onResult(index: number, rows: Float32Array[]): void }): Promise<void>;
	dispose(): Promise<void>;
}

/** Decides streaming for "auto": weights over the memory budget, or too large for the wasm heap. */
export function chooseStreaming(cfg: MistralConfig, backend: string, mode: StreamingMode, maxMemoryBytes?: number): boolean {
	const bytes = float32WeightBytes(cfg);
	const resident = bytes - 4 * cfg.vocab * cfg.hidden;
	const wasmTooBig = backend === "wasm" && resident > WASM_RESIDENT_LIMIT;
	if (mode === false && wasmTooBig) {
		throw new EvaluationError(
			"Backend",
			`${(resident / 2 ** 30).toFixed(1)} GB of float32 weights do not fit in the wasm heap; use streaming or --backend tfjs-node`,
		);
	}
	if (mode !== "auto") return mode;
	return wasmTooBig || bytes > (maxMemoryBytes ?? freemem() / 2);
}

/** Opens a model folder (or file) and prepares it for scoring. */
export async function loadEvalModel(dir: string, opts: EvalModelOptions = {}): Promise<EvalModel> {
	const src = await openModel(dir);
	try {
		const raw = configJsonOf(src);
		if (src.config === undefined && raw !== undefined) {
			const what = JSON.stringify(raw.architectures ?? raw.model_type ?? "an unknown model");
			throw new EvaluationError(
				"Config",
				`${src.location}: config.json describes ${what}; the evaluator runs Mistral/Llama-family models only`,
			);
		}
		if (src.config === undefined) throw new EvaluationError("Config", `${src.location}: no config.json next to the weights`);
		return await createEvalModel(src, src.config, { ...opts, ownsSource: true });
	} catch (err) {
		await src.close();
		throw err;
	}
}

/** Same as loadEvalModel for a TensorSource already open (tests use in-memory sources). */
export async function createEvalModel(
	src: TensorSource,
	modelConfig: ModelConfig,
	opts: EvalModelOptions & { ownsSource?: boolean } = {},
): Promise<EvalModel> {
	const cfg = toMistralConfig(modelConfig, src.location);
	const tf = await initTfjs(opts.device ?? "auto");
	const streaming = chooseStreaming(cfg, tf.getBackend(), opts.streaming ?? "auto", opts.maxMemoryBytes);
	const weights = streaming ? await streamingProvider(tf, src, cfg) : await residentProvider(tf, src, cfg);
	return new TfjsEvalModel(tf, cfg, src, weights, opts.ownsSource ?? false);
}

async function residentProvider(tf: Tf, src: TensorSource, cfg: MistralConfig): Promise<WeightProvider & { dispose(): void }> {
	const w = await loadMistralWeights(tf, src, cfg);
	return {
		streaming: false,
		embed: w.embed,
		layer: async (l) => w.layers[l]!,
		releaseLayer: () => {},
		head: async () => w.head,
		releaseHead: () => {},
		dispose: () => disposeMistralWeights(w),
	};
}

/** Weights loaded one layer at a time and released after use (the layer-streaming mode). */
export async function streamingProvider(tf: Tf, src: TensorSource, cfg: MistralConfig): Promise<WeightProvider & { dispose(): void }> {
	const embed = await loadEmbeddings(src, cfg);
	return {
		streaming: true,
		embed,
		layer: (l) => loadLayerWeights(tf, src, cfg, l),
		releaseLayer: (_l, w) => disposeLayerWeights(w),
		head: () => loadHeadWeights(tf, src, cfg, embed),
		releaseHead: (w) => disposeHeadWeights(w),
		dispose: () => {},
	};
}

class TfjsEvalModel implements EvalModel {
	readonly backend: string;
	readonly streaming: boolean;
	private readonly state: RunState;
	private prefix: PrefixCache | undefined;
	private busy = false;

	constructor(
		private readonly tf: Tf,
		readonly config: MistralConfig,
		private readonly src: TensorSource,
		private readonly weights: WeightProvider & { dispose(): void },
		private readonly ownsSource: boolean,
	) {
		this.backend = tf.getBackend();
		this.streaming = weights.streaming;
		this.state = createRunState(config);
	}

	/** The cache for `tokens`, reusing the previous call's when it holds the same prefix. */
	private prefixFor(tokens: readonly number[] | undefined): PrefixCache | undefined {
		if (tokens === undefined || tokens.length === 0) return undefined;
		if (
			this.prefix !== undefined &&
			commonPrefixLength(this.prefix.tokens, tokens) === tokens.length &&
			this.prefix.tokens.length === tokens.length
		) {
			return this.prefix;
		}
		if (this.prefix !== undefined) disposePrefixCache(this.prefix);
		this.prefix = createPrefixCache(this.tf, this.config, this.state, this.weights.embed, [...tokens]);
		return this.prefix;
	}

	/** Runs requests, one at a time per model (tfjs state is not re-entrant across awaits of the same batch). */
	private async run(
		reqs: SequenceRequest[],
		opts: ScoreOptions,
		logSoftmax: boolean,
		onBatch: (req: number, rows: Float32Array[]) => void,
	): Promise<void> {
		if (this.busy) throw new EvaluationError("Backend", "this EvalModel is already scoring; await the previous call first");
		this.busy = true;
		try {
			const shared = opts.sharedPrefix;
			for (const r of reqs) if (shared !== undefined) r.prefixUsed = Math.min(commonPrefixLength(r.tokens, shared), r.outputs[0]!);
			const prefix = reqs.some((r) => r.prefixUsed > 0) ? this.prefixFor(shared) : undefined;
			const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
			if (!(Number.isInteger(batchSize) && batchSize > 0))
				throw new EvaluationError("Data", `batchSize must be a positive integer, got ${batchSize}`);
			const V = this.config.vocab;
			await runSequences(this.tf, this.config, this.state, this.weights, reqs, prefix, {
				maxSequences: batchSize,
				maxRows: MAX_BATCH_ROWS,
				waveRows: Math.max(1, Math.floor(STREAM_WAVE_BYTES / (4 * this.config.hidden))),
				logSoftmax,
				onProgress: opts.onProgress,
				...(opts.signal !== undefined ? { signal: opts.signal } : {}),
				onBatch: (batch, data) => {
					let row = 0;
					for (const i of batch.requests) {
						const n = reqs[i]!.outputs.length;
						const rows = Array.from({ length: n }, (_, k) => data.slice((row + k) * V, (row + k + 1) * V));
						row += n;
						onBatch(i, rows);
					}
				},
			});
		} finally {
			this.busy = false;
		}
	}

	async lastLogits(prompts: readonly (readonly number[])[], opts: ScoreOptions = {}): Promise<Float32Array[]> {
		const reqs: SequenceRequest[] = prompts.map((p, i) => {
			if (p.length === 0) throw new EvaluationError("Data", `prompt ${i} is empty`);
			return { tokens: p, prefixUsed: 0, outputs: [p.length - 1] };
		});
		const out: Float32Array[] = new Array(prompts.length);
		await this.run(reqs, opts, false, (i, rows) => (out[i] = rows[0]!));
		return out;
	}

	async logprobsAt(
		items: readonly PositionRequest[],
		opts: ScoreOptions & { onResult(index: number, rows: Float32Array[]): void },
	): Promise<void> {
		const reqs: SequenceRequest[] = items.map((it, i) => {
			if (it.positions.length === 0) throw new EvaluationError("Data", `request ${i}: no position asked for`);
			return { tokens: it.tokens, prefixUsed: 0, outputs: it.positions };
		});
		await this.run(reqs, opts, true, opts.onResult);
	}

	async continuationLogprobs(items: readonly ContinuationRequest[], opts: ScoreOptions = {}): Promise<ContinuationScore[]> {
		const reqs: SequenceRequest[] = items.map((it, i) => {
			if (it.context.length === 0) throw new EvaluationError("Data", `request ${i}: empty context (start it with BOS)`);
			if (it.continuation.length === 0) throw new EvaluationError("Data", `request ${i}: empty continuation`);
			const tokens = [...it.context, ...it.continuation];
			const outputs = it.continuation.map((_, k) => it.context.length - 1 + k);
			return { tokens, prefixUsed: 0, outputs };
		});
		const out: ContinuationScore[] = new Array(items.length);
		await this.run(reqs, opts, true, (i, rows) => {
			const cont = items[i]!.continuation;
			let logprob = 0;
			let isGreedy = true;
			rows.forEach((lp, k) => {
				const target = cont[k]!;
				logprob += lp[target]!;
				// Greedy as torch's argmax decides it: the first index holding the maximum.
				let best = 0;
				for (let v = 1; v < lp.length; v++) if (lp[v]! > lp[best]!) best = v;
				if (best !== target) isGreedy = false;
			});
			out[i] = { logprob, isGreedy };
		});
		return out;
	}

	async dispose(): Promise<void> {
		if (this.prefix !== undefined) disposePrefixCache(this.prefix);
		this.prefix = undefined;
		this.weights.dispose();
		if (this.ownsSource) await this.src.close();
	}
}
