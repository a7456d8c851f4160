import type { Tensor, Tensor2D } from "@tensorflow/tfjs";
import { EvaluationError } from "../../errors.js";
import type { MistralConfig } from "../mistral-config.js";
import type { Tf } from "../tfjs-backend.js";
import type { Segment } from "./batch.js";
import { type BatchTensors, chunkMask, type RunState } from "./run-state.js";

/** One layer's keys (after RoPE) and values for the shared prefix, reused by every prompt that starts with it. */
export interface LayerKv {
	/** [prefixTokens, kvHeads·headDim] */
	keys: Tensor2D;
	/** [prefixTokens, kvHeads·headDim] */
	values: Tensor2D;
}

/**
 * Causal (optionally sliding-window) grouped-query attention of one packed segment, in blocks of query rows so
 * that memory stays linear in the prompt length: a block of q queries sees S_c = prefixUsed + (its last row + 1)
 * keys, and only its [g·q, S_c] scores exist at a time (each block and kv head runs in its own tf.tidy). Shapes:
 * T = the segment's rows, S = its keys = prefixUsed + T, g = heads / kvHeads query heads per kv head.
 */
export function segmentAttention(
	tf: Tf,
	cfg: MistralConfig,
	state: RunState,
	bt: BatchTensors,
	s: number,
	seg: Segment,
	/** [rows, heads, hd] queries after RoPE, already scaled by 1/√hd */
	qr: Tensor,
	/** [rows, kvHeads·hd] keys after RoPE */
	kr: Tensor2D,
	/** [rows, kvHeads·hd] values */
	v: Tensor2D,
	prefix: LayerKv | undefined,
): Tensor2D {
	const { heads, kvHeads, headDim: hd } = cfg;
	const g = heads / kvHeads;
	const T = seg.length;
	// keys and values this segment attends to: the cached prefix it uses, then its own rows [S, kvHeads·hd]
	let ks = kr.slice([seg.start, 0], [T, kvHeads * hd]);
	let vs = v.slice([seg.start, 0], [T, kvHeads * hd]);
	if (seg.prefixUsed > 0) {
		if (prefix === undefined || prefix.keys.shape[0] < seg.prefixUsed) {
			throw new EvaluationError(
				"Mismatch",
				`segment ${s} needs ${seg.prefixUsed} cached prefix tokens, the cache has ${prefix?.keys.shape[0] ?? 0}`,
			);
		}
		ks = tf.concat([prefix.keys.slice([0, 0], [seg.prefixUsed, -1]), ks]);
		vs = tf.concat([prefix.values.slice([0, 0], [seg.prefixUsed, -1]), vs]);
	}
	const S = ks.shape[0];
	// per kv head: keys transposed for a plain product [hd, S], values [S, hd] (2-D products: XNNPACK on wasm)
	const kParts = tf.unstack(ks.reshape([S, kvHeads, hd]).transpose([1, 2, 0])) as Tensor2D[];
	const vParts = tf.unstack(vs.reshape([S, kvHeads, hd]).transpose([1, 0, 2])) as Tensor2D[];
	const blocks: Tensor2D[] = [];
	for (let t0 = 0; t0 < T; t0 += state.queryChunk) {
		const q = Math.min(state.queryChunk, T - t0);
		const Sc = seg.prefixUsed + t0 + q;
		blocks.push(
			tf.tidy(() => {
				// the block's queries grouped by the kv head they share: [kvHeads, g·q, hd]
				const qg = tf.unstack(
					qr
						.slice([seg.start + t0, 0, 0], [q, heads, hd])
						.transpose([1, 0, 2])
						.reshape([kvHeads, g * q, hd]),
				);
				// additive causal / sliding-window mask [q, Sc]
				const mask = chunkMask(tf, cfg, bt, s, seg, t0, q);
				const perKv = qg.map((qh, j) =>
					tf.tidy(() => {
						const k = Sc === S ? kParts[j]! : kParts[j]!.slice([0, 0], [hd, Sc]);
						const val = Sc === S ? vParts[j]! : vParts[j]!.slice([0, 0], [Sc, hd]);
						// scores [g·q, Sc] → [g, q, Sc] + mask → softmax over keys (float32) → weighted values [g·q, hd]
						const scores = tf.matMul(qh as Tensor2D, k).reshape([g, q, Sc]);
						const probs = tf.softmax(tf.add(scores, mask)).reshape([g * q, Sc]) as Tensor2D;
						return tf.matMul(probs, val);
					}),
				);
				// back to token-major: [kvHeads, g·q, hd] = [heads, q, hd] → [q, heads·hd]
				return tf
					.stack(perKv)
					.reshape([heads, q, hd])
					.transpose([1, 0, 2])
					.reshape([q, heads * hd]) as Tensor2D;
			}),
		);
	}
	return (blocks.length === 1 ? blocks[0]! : tf.concat(blocks)) as Tensor2D;
}
