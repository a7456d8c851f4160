/**
 * Streaming a tensor through a method chunk by chunk: the chunk alignment and the form the executor runs (the
 * method's own chunked form, or its elementwise kernel applied per chunk). The contract itself (Chunk,
 * ChunkedKernel, ChunkedForm) is part of the method types (types.ts).
 */
import type { ChunkedForm, MergeMethod } from "./types.js";

/** Chunk sizes are multiples of this many elements (so lane-split accumulators see the same element order). */
export const CHUNK_ALIGN = 1024;

/**
 * The chunked form of a method, if it has one for these parameters: its own, or for an elementwise method
 * the method's kernel itself applied to each chunk (with `elementOffset`, so random streams line up).
 */
export function chunkedFormOf(method: MergeMethod, params: unknown, modelParams: unknown[]): ChunkedForm<unknown, unknown> | undefined {
	const own = method.chunked;
	if (own?.supports(params, modelParams)) return own;
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
							...(input.paramsChecked !== undefined ? { paramsChecked: input.paramsChecked } : {}),
						},
						ctx,
					),
			}),
		};
	}
	return undefined;
}
