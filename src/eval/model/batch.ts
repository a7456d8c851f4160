import { EvaluationError } from "../../errors.js";

/** One sequence to run: its full token list, how much of the shared prefix cache it reuses, which logits it needs. */
export interface SequenceRequest {
	/** Every token of the sequence, the shared prefix included. */
	tokens: readonly number[];
	/** Leading tokens taken from the shared-prefix KV cache instead of being recomputed (0 = none). */
	prefixUsed: number;
	/** Positions (indices into `tokens`, all ≥ prefixUsed) whose logits are wanted, ascending. */
	outputs: readonly number[];
}

/** One sequence's rows inside a packed batch. */
export interface Segment {
	/** First row of this sequence in the packed [rows, hidden] buffers. */
	start: number;
	/** Rows it owns: tokens[prefixUsed:]. */
	length: number;
	/** Cached prefix keys it attends to before its own; its first row sits at absolute position prefixUsed. */
	prefixUsed: number;
}

/**
 * Several sequences packed row after row into one [rows, hidden] activation (no padding): projections and
 * the MLP run as one big matrix product over all rows, attention runs per segment on its own slice.
 */
export interface PackedBatch {
	/** [rows] token ids. */
	tokens: Int32Array;
	/** [rows] absolute positions (RoPE angles and the causal / sliding-window mask use them). */
	positions: Int32Array;
	segments: Segment[];
	/** Indices (into the request list) of the sequences in this batch, in segment order. */
	requests: number[];
	/** Packed row of every wanted output, request by request, in `outputs` order. */
	outputRows: number[];
}

/** Packs `reqs` into batches of at most `maxSequences` sequences and about `maxRows` rows (a longer sequence gets a batch of its own). */
export function planBatches(reqs: readonly SequenceRequest[], maxSequences: number, maxRows: number): PackedBatch[] {
	const batches: PackedBatch[] = [];
	let pending: number[] = [];
	let rows = 0;
	const flush = (): void => {
		if (pending.length > 0) batches.push(packBatch(reqs, pending));
		pending = [];
		rows = 0;
	};
	reqs.forEach((req, i) => {
		const own = req.tokens.length - req.prefixUsed;
		if (pending.length >= maxSequences || (pending.length > 0 && rows + own > maxRows)) flush();
		pending.push(i);
		rows += own;
	});
	flush();
	return batches;
}

function packBatch(reqs: readonly SequenceRequest[], indices: number[]): PackedBatch {
	let total = 0;
	for (const i of indices) total += reqs[i]!.tokens.length - reqs[i]!.prefixUsed;
	const tokens = new Int32Array(total);
	const positions = new Int32Array(total);
	const segments: Segment[] = [];
	const outputRows: number[] = [];
	let row = 0;
	for (const i of indices) {
		const req = reqs[i]!;
		const length = req.tokens.length - req.prefixUsed;
		if (length <= 0) throw new EvaluationError("Data", `sequence ${i}: no tokens left after the ${req.prefixUsed}-token shared prefix`);
		for (let t = 0; t < length; t++) {
			tokens[row + t] = req.tokens[req.prefixUsed + t]!;
			positions[row + t] = req.prefixUsed + t;
		}
		for (const p of req.outputs) {
			if (p < req.prefixUsed || p >= req.tokens.length) {
				throw new EvaluationError(
					"Data",
					`sequence ${i}: output position ${p} is outside its computed rows [${req.prefixUsed}, ${req.tokens.length})`,
				);
			}
			outputRows.push(row + p - req.prefixUsed);
		}
		segments.push({ start: row, length, prefixUsed: req.prefixUsed });
		row += length;
	}
	return { tokens, positions, segments, requests: indices, outputRows };
}

/** Length of the longest common prefix of two token lists. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
	const n = Math.min(a.length, b.length);
	let i = 0;
	while (i < n && a[i] === b[i]) i++;
	return i;
}
