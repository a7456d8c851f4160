import type { Tensor2D } from "@tensorflow/tfjs";
import { decoderLayer, embedTokens, type LayerKv, outputLogits } from "../forward.js";
import type { MistralConfig } from "../mistral-config.js";
import type { Tf } from "../tfjs-backend.js";
import type { HeadWeights, LayerWeights } from "../weights.js";
import { type PackedBatch, planBatches, type SequenceRequest } from "./batch.js";
import { type BatchTensors, disposeBatchTensors, prepareBatch, type RunState } from "./run-state.js";

/** Where layer weights come from: resident tensors (in-memory mode) or loaded and freed per use (streaming). */
export interface WeightProvider {
	readonly streaming: boolean;
	/** [vocab, hidden] embedding table. */
	readonly embed: Float32Array;
	layer(l: number): Promise<LayerWeights>;
	/** Called when layer `l` is no longer needed by the current wave (streaming frees it here). */
	releaseLayer(l: number, w: LayerWeights): void;
	head(): Promise<HeadWeights>;
	releaseHead(w: HeadWeights): void;
}

/** The shared prefix's keys and values, filled one layer at a time the first time prompts run through it. */
export interface PrefixCache {
	tokens: readonly number[];
	/** Per finished layer: keys after RoPE and values, [tokens.length, kvHeads·headDim]. */
	kv: LayerKv[];
	/** Internal: the prefix's residual stream while layers are still pending. */
	pending?: { batch: PackedBatch; bt: BatchTensors; x: Tensor2D };
}

interface ScheduleOptions {
	/** Sequences per packed batch. */
	maxSequences: number;
	/** Rows (tokens) per packed batch; a longer sequence runs alone. */
	maxRows: number;
	/** Streaming only: rows whose hidden states are carried through the layers together (one weight pass each). */
	waveRows: number;
	/** Return log-softmax over the vocabulary instead of raw logits. */
	logSoftmax: boolean;
	/** Receives each batch's wanted rows as [batch.outputRows.length × vocab]. */
	onBatch: (batch: PackedBatch, rows: Float32Array) => void;
	onProgress?: (done: number, total: number) => void;
	/** Checked before each wave: once aborted, the remaining waves are skipped (finished ones stay delivered). */
	signal?: AbortSignal;
}

export function createPrefixCache(
	tf: Tf,
	cfg: MistralConfig,
	state: RunState,
	embed: Float32Array,
	tokens: readonly number[],
): PrefixCache {
	const [batch] = planBatches([{ tokens, prefixUsed: 0, outputs: [] }], 1, tokens.length);
	const bt = prepareBatch(tf, cfg, state, batch!);
	return { tokens, kv: [], pending: { batch: batch!, bt, x: embedTokens(tf, cfg, embed, batch!.tokens) } };
}

export function disposePrefixCache(p: PrefixCache): void {
	for (const kv of p.kv) {
		kv.keys.dispose();
		kv.values.dispose();
	}
	if (p.pending !== undefined) {
		p.pending.x.dispose();
		disposeBatchTensors(p.pending.bt);
	}
	p.kv = [];
	p.pending = undefined;
}

/** Runs the prefix through layer `l` if that is the next layer it needs, keeping the layer's keys and values. */
function advancePrefix(tf: Tf, cfg: MistralConfig, state: RunState, p: PrefixCache, l: number, w: LayerWeights): void {
	if (p.pending === undefined || p.kv.length !== l) return;
	const { batch, bt, x } = p.pending;
	const out = decoderLayer(tf, cfg, state, w, bt, batch, x, undefined, true);
	x.dispose();
	p.kv.push(out.kv!);
	p.pending.x = out.x;
	if (p.kv.length === cfg.layers) {
		out.x.dispose();
		disposeBatchTensors(bt);
		p.pending = undefined;
	}
}

/** Groups consecutive batches so that each group's rows stay within `waveRows` (at least one batch per group). */
function planWaves(batches: PackedBatch[], waveRows: number): PackedBatch[][] {
	const waves: PackedBatch[][] = [];
	let rows = 0;
	for (const b of batches) {
		const last = waves[waves.length - 1];
		if (last !== undefined && rows + b.tokens.length <= waveRows) {
			last.push(b);
			rows += b.tokens.length;
		} else {
			waves.push([b]);
			rows = b.tokens.length;
		}
	}
	return waves;
}

/**
 * Runs every request through the model. Layers are the outer loop inside a wave and batches the inner one,
 * so in streaming mode each layer's weights are loaded once per wave and every pending prompt passes through
 * them before they are freed. In-memory mode uses one batch per wave (the weights stay resident anyway).
 */
export async function runSequences(
	tf: Tf,
	cfg: MistralConfig,
	state: RunState,
	weights: WeightProvider,
	reqs: readonly SequenceRequest[],
	prefix: PrefixCache | undefined,
	opts: ScheduleOptions,
): Promise<void> {
	const batches = planBatches(reqs, opts.maxSequences, opts.maxRows);
	const waves = planWaves(batches, weights.streaming ? opts.waveRows : 0);
	let done = 0;
	for (const wave of waves) {
		// tfjs resolves its promises as microtasks: give signal handlers (Ctrl-C) and timers a turn per wave.
		await new Promise<void>((resolve) => setImmediate(resolve));
		if (opts.signal?.aborted === true) return;
		const bts = wave.map((b) => prepareBatch(tf, cfg, state, b));
		const xs = wave.map((b) => embedTokens(tf, cfg, weights.embed, b.tokens));
		try {
			for (let l = 0; l < cfg.layers; l++) {
				const w = await weights.layer(l);
				try {
					if (prefix !== undefined) advancePrefix(tf, cfg, state, prefix, l, w);
					for (let b = 0; b < wave.length; b++) {
						const next = decoderLayer(tf, cfg, state, w, bts[b]!, wave[b]!, xs[b]!, prefix?.kv[l]).x;
						xs[b]!.dispose();
						xs[b] = next;
					}
				} finally {
					weights.releaseLayer(l, w);
				}
			}
			const head = await weights.head();
			try {
				for (let b = 0; b < wave.length; b++) {
					const rows = tf.tidy(() => {
						const logits = outputLogits(tf, cfg, head, xs[b]!, wave[b]!.outputRows);
						return opts.logSoftmax ? tf.logSoftmax(logits) : logits;
					});
					const data = (await rows.data()) as Float32Array;
					rows.dispose();
					opts.onBatch(wave[b]!, data);
				}
			} finally {
				weights.releaseHead(head);
			}
		} finally {
			for (const x of xs) x.dispose();
			for (const bt of bts) disposeBatchTensors(bt);
		}
		done += wave.reduce((n, b) => n + b.requests.length, 0);
		opts.onProgress?.(done, reqs.length);
	}
}
