import type { MergeContext, MergeMethod } from "./types.js";

/**
 * One range of a tensor's elements, decoded to float32: the executor hands a tensor to a chunked kernel as
 * consecutive chunks, so memory stays at the encoded inputs plus a few chunk buffers whatever the tensor size.
 * The arrays are scratch: a kernel may overwrite them.
 */
export interface Chunk {
	/** Index of the chunk's first element within the whole tensor. */
	offset: number;
	base: Float32Array | undefined;
	models: Float32Array[];
}

/**
 * A kernel that reads a tensor as chunks, in order: `scanPasses` read-only passes over every chunk
 * (global statistics: norms, dot products, selection histograms), then one `emit` pass producing the
 * output chunk by chunk. Results must not depend on the chunk size (multiples of CHUNK_ALIGN elements).
 * Within a pass and in the emit pass, chunks come in index order and cover the tensor once.
 */
export interface ChunkedKernel {
	/**
	 * Scan passes still to run, counted from pass 0. It may shrink (never grow) once a pass has covered the
	 * tensor, when the kernel finds it needs fewer passes than it first planned for (e.g. a rank search that
	 * succeeded early), so callers must re-read it before starting each pass, not only once.
	 */
	readonly scanPasses: number;
	scan(pass: number, chunk: Chunk): void;
	/** The output values for this chunk (may be one of the chunk's own arrays). */
	emit(chunk: Chunk): Float32Array;
}

/** What a chunked kernel is created from: the resolved parameters and the whole tensor's size. */
export interface ChunkedInput<P, M> {
	tensorName: string;
	shape: readonly number[];
	numel: number;
	params: P;
	modelParams: M[];
	models: number;
}

/** A method's chunked form. `supports` lets the planner know, from parameters alone, that it applies. */
export interface ChunkedForm<P, M> {
	supports(params: P, modelParams: M[]): boolean;
	create(input: ChunkedInput<P, M>, ctx: MergeContext): ChunkedKernel;
}

/** Chunk sizes are multiples of this many elements (so lane-split accumulators see the same element order). */
export const CHUNK_ALIGN = 1024;

/**
 * The chunked form of a method, if it has one for these parameters: its own, or for an elementwise method
 * the method's kernel itself applied to each chunk (with `elementOffset`, so random streams line up).
 */
export function chunkedFormOf(method: MergeMethod, params: unknown, modelParams: unknown[]): ChunkedForm<unknown, unknown> | undefined {
	const own = method.chunked;
	if (own !== undefined && own.supports(params, modelParams)) return own;
	if (method.elementwise?.(params, modelParams) === true) {
		return {
			supports: () => true,
			create: (input, ctx) => ({
				scanPasses: 0,
				scan: () => undefined,
				emit: (chunk) =>
					method.merge(
						{
							tensorName: input.tensorName,
							shape: [chunk.models[0]?.length ?? chunk.base?.length ?? 0],
							base: chunk.base,
							models: chunk.models,
							params: input.params,
							modelParams: input.modelParams,
							elementOffset: chunk.offset,
							inPlace: true,
						},
						ctx,
					),
			}),
		};
	}
	return undefined;
}
