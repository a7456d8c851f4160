import type { Tensor2D, Tensor3D } from "@tensorflow/tfjs";
import type { MistralConfig } from "../mistral-config.js";
import type { Tf } from "../tfjs-backend.js";
import type { PackedBatch, Segment } from "./batch.js";

/** What a masked attention score becomes: exp(-∞ − max) is exactly 0 after softmax's max subtraction. */
export const MASKED = Number.NEGATIVE_INFINITY;

/**
 * Query rows per attention block. Scores exist one block and one kv head at a time ([g·512, S] floats), so
 * attention memory grows linearly with the prompt (a 4k-token prompt: ~16 MB of scores per block at g = 2,
 * instead of 128 MB per kv head for the whole square); prompts up to 512 tokens still run as one block.
 */
const ATTENTION_QUERY_CHUNK = 512;

/**
 * Mask elements (16 MB) a batch keeps for reuse by every layer; masks past this budget are built per use.
 * A budget per batch, not per mask: the masks of a long prompt's blocks add up to the quadratic T²/2.
 */
const MASK_CACHE_ELEMENTS = 4 * 2 ** 20;

/**
 * State allocated once per model and reused by every batch (llama2.c's `RunState`): the RoPE angle tables.
 * Activations are tfjs tensors created inside `tf.tidy` scopes, so the backend's allocator recycles them.
 */
export interface RunState {
	/** [headDim/2] inv_freq[j] = θ^(−2j/headDim), in float64. */
	invFreq: Float64Array;
	/** Positions covered by the tables below; grown on demand. */
	tablePositions: number;
	/** [tablePositions, headDim] cos(pos · inv_freq[j mod headDim/2]), the HF `cat(freqs, freqs)` layout. */
	cos: Float32Array;
	/** [tablePositions, headDim] likewise sin. */
	sin: Float32Array;
	/** Query rows per attention block (ATTENTION_QUERY_CHUNK; tests use small values to exercise the blocks). */
	queryChunk: number;
}

export function createRunState(cfg: MistralConfig, queryChunk = ATTENTION_QUERY_CHUNK): RunState {
	const half = cfg.headDim / 2;
	const invFreq = new Float64Array(half);
	for (let j = 0; j < half; j++) invFreq[j] = cfg.ropeTheta ** ((-2 * j) / cfg.headDim);
	return { invFreq, tablePositions: 0, cos: new Float32Array(0), sin: new Float32Array(0), queryChunk };
}

/** Makes the cos/sin tables cover positions [0, n). Angles are computed in float64, then rounded once. */
function growTables(state: RunState, n: number, headDim: number): void {
	if (n <= state.tablePositions) return;
	const size = Math.max(n, 2 * state.tablePositions);
	const half = headDim / 2;
	const cos = new Float32Array(size * headDim);
	const sin = new Float32Array(size * headDim);
	for (let p = 0; p < size; p++) {
		for (let j = 0; j < half; j++) {
			const angle = p * state.invFreq[j]!;
			const c = Math.cos(angle);
			const s = Math.sin(angle);
			cos[p * headDim + j] = c;
			cos[p * headDim + j + half] = c;
			sin[p * headDim + j] = s;
			sin[p * headDim + j + half] = s;
		}
	}
	state.tablePositions = size;
	state.cos = cos;
	state.sin = sin;
}

/** Per-batch tensors shared by every layer: RoPE factors per row and the attention masks small enough to keep. */
export interface BatchTensors {
	/** [rows, 1, headDim] broadcast over heads. */
	cos: Tensor3D;
	/** [rows, 1, headDim] */
	sin: Tensor3D;
	/** Kept masks by "segment:firstRow:rows" (see chunkMask). */
	masks: Map<string, Tensor2D>;
	/** Elements held by `masks`, at most MASK_CACHE_ELEMENTS. */
	maskElements: number;
}

/** Builds the RoPE rows for the batch's positions; masks are made per attention block (chunkMask). */
export function prepareBatch(tf: Tf, cfg: MistralConfig, state: RunState, batch: PackedBatch): BatchTensors {
	const hd = cfg.headDim;
	const rows = batch.positions.length;
	let maxPos = 0;
	for (const p of batch.positions) maxPos = Math.max(maxPos, p);
	growTables(state, maxPos + 1, hd);
	const cos = new Float32Array(rows * hd);
	const sin = new Float32Array(rows * hd);
	for (let r = 0; r < rows; r++) {
		const p = batch.positions[r]!;
		cos.set(state.cos.subarray(p * hd, (p + 1) * hd), r * hd);
		sin.set(state.sin.subarray(p * hd, (p + 1) * hd), r * hd);
	}
	return { cos: tf.tensor3d(cos, [rows, 1, hd]), sin: tf.tensor3d(sin, [rows, 1, hd]), masks: new Map(), maskElements: 0 };
}

/**
 * The additive mask [q, Sc] of the attention block holding rows t0..t0+q−1 of segment `s` (Sc = prefixUsed +
 * t0 + q keys: the block never looks past its own last row). Key j (absolute position) is visible to query i
 * iff j ≤ i and, with a sliding window W, i − W < j. Small masks are kept in `bt` for every layer; a large one
 * is made per use and freed with the caller's tf.tidy scope.
 */
export function chunkMask(tf: Tf, cfg: MistralConfig, bt: BatchTensors, s: number, seg: Segment, t0: number, q: number): Tensor2D {
	const key = `${s}:${t0}:${q}`;
	const kept = bt.masks.get(key);
	if (kept !== undefined) return kept;
	const keys = seg.prefixUsed + t0 + q;
	const window = cfg.slidingWindow;
	const m = new Float32Array(q * keys);
	for (let t = 0; t < q; t++) {
		const i = seg.prefixUsed + t0 + t;
		for (let j = 0; j < keys; j++) {
			const visible = j <= i && (window === null || i - window < j);
			m[t * keys + j] = visible ? 0 : MASKED;
		}
	}
	const mask = tf.tensor2d(m, [q, keys]);
	if (bt.maskElements + q * keys <= MASK_CACHE_ELEMENTS) {
		bt.masks.set(key, tf.keep(mask));
		bt.maskElements += q * keys;
	}
	return mask;
}

export function disposeBatchTensors(b: BatchTensors): void {
	b.cos.dispose();
	b.sin.dispose();
	for (const m of b.masks.values()) m.dispose();
	b.masks.clear();
	b.maskElements = 0;
}
