import { chunkedFormOf } from "../methods/chunked.js";
import { numel } from "../tensor/tensor.js";
import type { TensorJob } from "./types.js";

/**
 * Default cap on tensor data in flight during a merge (decoded inputs and results of the jobs running at
 * once). The largest single job always runs, alone if it must: a 7B model's 32000 × 4096 embedding with a
 * base and one other model needs about 2 GB decoded; every other Mistral-7B tensor fits in well under 1 GB.
 */
export const MEMORY_BUDGET_BYTES = 1_200_000_000;

/** Fixed cost of the process and of each worker thread (code, heaps, I/O buffers), for estimates. */
export const PROCESS_OVERHEAD_BYTES = 120 * 2 ** 20;

/**
 * Elements per read and per write when a tensor is streamed (exec/chunked-job.ts). 4 Mi values: 8 MB reads of
 * bf16 keep the disk streaming (1 Mi measured about 1.5× slower end to end on a 2-layer 7B-width merge).
 */
export const STREAM_CHUNK_ELEMENTS = 1 << 22;

/**
 * Chunk reads kept in flight ahead of the computation, per input of a streamed job. One is not enough when several
 * jobs read different files at once: the disk then sees one request per stream and idles between them.
 */
export const STREAM_READ_AHEAD = 3;

/**
 * Elements per compute block of a streamed tensor: each block is decoded, merged and encoded while it sits in
 * the CPU's L2 cache (64 Ki float32 values = 256 KiB per input), instead of a whole chunk going through memory
 * once per step.
 */
export const COMPUTE_BLOCK_ELEMENTS = 1 << 16;

/**
 * Tensors above this many elements are streamed when their method has a chunked form: their buffers then come
 * from the executor's pool instead of fresh allocations (whose page faults cost more than the merge arithmetic).
 */
export const CHUNKED_ABOVE_ELEMENTS = COMPUTE_BLOCK_ELEMENTS;

/**
 * Bytes of input chunks each thread's streamed jobs may keep between the passes of a multi-pass kernel (TIES's
 * sample, bracket and emit passes; SLERP's sums and blend). Inputs are read past the page cache (direct reads), so
 * a chunk not kept is read from the disk again by every later pass; a kept one is read once. A 7B MLP projection
 * with a base and one model (2 × 117 MB of bf16) fits whole; larger tensors keep their first chunks. 320 MiB per
 * thread measured best on the 2-layer bench (640 MiB was slower: fresh memory costs page faults).
 */
export const HOLD_BYTES = 320 * 2 ** 20;

/** Fixed cost of a streamed job besides its buffers and kernel state (histograms, samples, scratch), generously. */
const STREAM_OVERHEAD_BYTES = 4 * 2 ** 20;

/** Largest per-model state of a chunked kernel: a rank cut's bracket candidates (methods/task-vector/bracket.ts). */
const KERNEL_STATE_BYTES = 16 * 2 ** 20;

/**
 * Estimated peak bytes of one job: for a streamed (chunked) job, the encoded inputs plus chunk buffers;
 * otherwise the decoded float32 inputs, the kernel's result and scratch, and the encode buffers.
 */
export function jobMemory(job: TensorJob): number {
	if (job.copyRaw === true) return job.output.byteLength;
	const n = numel(job.output.shape);
	// compat: mergekit runs whole tensors: the inputs, up to three tensor-sized scratch arrays (sort keys, masks).
	if (job.compat !== undefined) return n * 4 * (job.inputs.length + (job.base !== undefined ? 1 : 0) + 3) + 32 * 2 ** 20;
	// Rows rebuilt to a new vocabulary: every input as an output-sized matrix, the default rows, the kernel's result and
	// scratch, and a run of source rows being read (exec/vocab-rows.ts).
	if (job.vocab !== undefined) {
		const cols = n / Math.max(1, job.output.shape[0] ?? 1);
		return (
			n * 4 * (job.inputs.length + (job.base !== undefined ? 1 : 0) + 2) +
			job.vocab.defaults.length * cols * 4 +
			64 * 2 ** 20 +
			32 * 2 ** 20
		);
	}
	if (n > CHUNKED_ABOVE_ELEMENTS && job.truncate === undefined && chunkedFormOf(job.method, job.params, job.modelParams) !== undefined) {
		// A ring of chunks per input, two output chunks, and one compute block per input (exec/chunked-job.ts).
		const chunk = Math.min(n, STREAM_CHUNK_ELEMENTS) / n;
		const inputs = job.inputs.length + (job.base !== undefined ? 1 : 0);
		const ring = (STREAM_READ_AHEAD + 1) * chunk * job.inputBytes;
		// Kernel state per model: a rank cut's gathered candidates (at most KERNEL_STATE_BYTES) and DARE's keep bits.
		const kernel = inputs * (Math.min(KERNEL_STATE_BYTES, n * 4) + Math.ceil(n / 8));
		return (
			Math.ceil(ring + 2 * chunk * job.output.byteLength) +
			inputs * Math.min(n, COMPUTE_BLOCK_ELEMENTS) * 4 +
			kernel +
			STREAM_OVERHEAD_BYTES
		);
	}
	const inputs = job.inputs.length + (job.base !== undefined ? 1 : 0);
	return n * 4 * (inputs + 2) + 32 * 2 ** 20;
}

/**
 * Peak resident memory of a merge: jobs run side by side while their data fits the budget, and the
 * largest job always runs; plus the process and one overhead per worker thread.
 */
export function estimatePeakMemory(jobs: TensorJob[], threads = 2, budget = MEMORY_BUDGET_BYTES): number {
	const sizes = jobs.map(jobMemory).sort((a, b) => b - a);
	// Kernels with a chunked form of their own may scan before they emit, and then keep chunks (HOLD_BYTES per thread).
	const holds = jobs.some(
		(j) =>
			numel(j.output.shape) > CHUNKED_ABOVE_ELEMENTS &&
			j.truncate === undefined &&
			j.compat === undefined &&
			j.method.chunked?.supports(j.params, j.modelParams) === true,
	);
	const largest = sizes[0] ?? 0;
	let together = 0;
	for (const s of sizes.slice(0, Math.max(1, threads))) {
		if (together + s > budget && together > 0) break;
		together += s;
	}
	return (
		Math.max(largest, together) + PROCESS_OVERHEAD_BYTES * (1 + Math.max(0, threads - 1)) + (holds ? HOLD_BYTES * Math.max(1, threads) : 0)
	);
}
