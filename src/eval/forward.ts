import type { Tensor, Tensor1D, Tensor2D } from "@tensorflow/tfjs";
import { EvaluationError } from "../errors.js";
import type { MistralConfig } from "./mistral-config.js";
import { type LayerKv, segmentAttention } from "./model/attention.js";
import { type PackedBatch, planBatches } from "./model/batch.js";
import { type BatchTensors, createRunState, disposeBatchTensors, prepareBatch, type RunState } from "./model/run-state.js";
import type { Tf } from "./tfjs-backend.js";
import type { HeadWeights, LayerWeights, MistralWeights } from "./weights.js";

export type { LayerKv };

/** What one decoder layer returns: the new residual stream and, when asked, this batch's keys and values. */
interface LayerOutput {
	/** [rows, hidden] */
	x: Tensor2D;
	kv?: LayerKv;
}

/** Looks the batch's tokens up in the [vocab, hidden] table: x [rows, hidden]. */
export function embedTokens(tf: Tf, cfg: MistralConfig, embed: Float32Array, tokens: Int32Array): Tensor2D {
	const h = cfg.hidden;
	const x = new Float32Array(tokens.length * h);
	tokens.forEach((id, r) => {
		if (!(id >= 0 && id < cfg.vocab))
			throw new EvaluationError("Data", `token id ${id} at row ${r} is outside the vocabulary [0, ${cfg.vocab})`);
		x.set(embed.subarray(id * h, (id + 1) * h), r * h);
	});
	return tf.tensor2d(x, [tokens.length, h]);
}

/** RMSNorm in float32: x · rsqrt(mean(x²) + eps) · w, over the last axis. */
export function rmsNorm(tf: Tf, x: Tensor2D, w: Tensor1D, eps: number): Tensor2D {
	return tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), w));
}

/** HF "rotate half" RoPE on x [rows, nHeads, headDim]: x·cos + concat(−x₂, x₁)·sin, pairs (j, j + headDim/2). */
function rope(tf: Tf, x: Tensor, cos: Tensor, sin: Tensor, headDim: number): Tensor {
	const [x1, x2] = tf.split(x, [headDim / 2, headDim / 2], -1) as [Tensor, Tensor];
	const rotated = tf.concat([tf.neg(x2), x1], -1);
	return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}

/**
 * One decoder layer over a packed batch. Straight-line, one comment per step, shapes in brackets
 * (rows = packed tokens of every segment, T = one segment's rows, S = its keys = prefixUsed + T,
 * g = heads / kvHeads query heads per kv head). With `keepKv` the batch's keys and values are returned
 * (how the shared-prefix cache is filled); `prefix` is that cache for this layer.
 */
export function decoderLayer(
	tf: Tf,
	cfg: MistralConfig,
	state: RunState,
	w: LayerWeights,
	bt: BatchTensors,
	batch: PackedBatch,
	x: Tensor2D,
	prefix: LayerKv | undefined,
	keepKv = false,
): LayerOutput {
	const { heads, kvHeads, headDim: hd } = cfg;
	const rows = x.shape[0];
	return tf.tidy(() => {
		// 1. attention RMSNorm: xn [rows, hidden]
		const xn = rmsNorm(tf, x, w.inputNorm, cfg.rmsNormEps);
		// 2. projections (weights pre-transposed to [in, out]): q [rows, heads·hd], k, v [rows, kvHeads·hd]
		const q = tf.matMul(xn, w.wq);
		const k = tf.matMul(xn, w.wk);
		const v = tf.matMul(xn, w.wv) as Tensor2D;
		// 3. RoPE at each row's absolute position; q also takes the 1/√hd score scale: [rows, heads, hd], [rows, kvHeads, hd]
		const qr = tf.mul(rope(tf, q.reshape([rows, heads, hd]), bt.cos, bt.sin, hd), 1 / Math.sqrt(hd));
		const kr = rope(tf, k.reshape([rows, kvHeads, hd]), bt.cos, bt.sin, hd).reshape([rows, kvHeads * hd]) as Tensor2D;
		// 4. attention, segment by segment, in blocks of query rows (memory linear in the prompt): [T, heads·hd] each
		const outs = batch.segments.map((seg, s) => segmentAttention(tf, cfg, state, bt, s, seg, qr, kr, v, prefix));
		const att = (outs.length === 1 ? outs[0]! : tf.concat(outs)) as Tensor2D;
		// 5. output projection + residual: h [rows, hidden]
		const h = tf.add(x, tf.matMul(att, w.wo)) as Tensor2D;
		// 6. MLP RMSNorm, then down(silu(gate) ⊙ up) + residual: gate, up [rows, intermediate] → out [rows, hidden]
		const hn = rmsNorm(tf, h, w.postNorm, cfg.rmsNormEps);
		const gate = tf.matMul(hn, w.wGate);
		const up = tf.matMul(hn, w.wUp);
		const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as Tensor2D;
		const out = tf.add(h, tf.matMul(act, w.wDown)) as Tensor2D;
		return keepKv ? { x: out, kv: { keys: kr, values: v } } : { x: out };
	});
}

/** Final RMSNorm and lm_head on the chosen rows only: logits [rows.length, vocab]. */
export function outputLogits(tf: Tf, cfg: MistralConfig, head: HeadWeights, x: Tensor2D, rows: readonly number[]): Tensor2D {
	return tf.tidy(() => {
		const picked = rows.length === x.shape[0] && rows.every((r, i) => r === i) ? x : tf.gather(x, tf.tensor1d(rows as number[], "int32"));
		return tf.matMul(rmsNorm(tf, picked, head.norm, cfg.rmsNormEps), head.lmHead);
	});
}

/**
 * The whole forward pass of one prompt with every weight in memory (no cache): logits for every position,
 * [tokens.length × vocab] row-major. The batched, cached and streaming paths live in eval-model.ts.
 */
export function forward(
	tf: Tf,
	cfg: MistralConfig,
	weights: MistralWeights,
	tokens: readonly number[],
	state: RunState = createRunState(cfg),
): Float32Array {
	const outputs = tokens.map((_, i) => i);
	const [batch] = planBatches([{ tokens, prefixUsed: 0, outputs }], 1, tokens.length);
	const bt = prepareBatch(tf, cfg, state, batch!);
	let x = embedTokens(tf, cfg, weights.embed, batch!.tokens);
	try {
		for (const lw of weights.layers) {
			const next = decoderLayer(tf, cfg, state, lw, bt, batch!, x, undefined).x;
			x.dispose();
			x = next;
		}
		const logits = outputLogits(tf, cfg, weights.head, x, batch!.outputRows);
		const data = logits.dataSync() as Float32Array;
		logits.dispose();
		return data;
	} finally {
		x.dispose();
		disposeBatchTensors(bt);
	}
}
