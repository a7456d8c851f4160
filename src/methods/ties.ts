import { defineTaskArithmetic, mergeTaskVectors, type Rescale } from "./task-vector/index.js";

/** TIES: trim each task vector to its largest magnitudes, elect a sign per position, average the agreeing entries. */
export const tiesMethod = defineTaskArithmetic({
	name: "ties",
	prettyName: "TIES",
	referenceUrl: "https://arxiv.org/abs/2306.01708",
	description:
		"TIES-Merging: keeps the top `density` fraction of each task vector by magnitude, elects the sign of the " +
		"weighted sum at every position, and adds the weighted mean of the entries that agree with it to the base.",
	sparsify: "magnitude",
	consensus: "sum",
	defaultNormalize: true,
	defaultRescale: false,
});

/** Options of {@link ties}; per-model arrays are aligned with `models`. */
interface TiesOptions {
	weights: readonly number[];
	/** Fraction kept per model by magnitude; default 1. */
	densities?: readonly number[];
	/** Divide by the sum of the agreeing weights; default true. */
	normalize?: boolean;
	/** Default 1. */
	lambda?: number;
	/** Default false. */
	rescale?: Rescale;
	tensorName?: string;
}

/** Plain TIES on typed arrays, one tensor (recipes use the `ties` method of {@link BUILTIN_METHODS}). */
export function ties(base: Float32Array, models: readonly Float32Array[], opts: TiesOptions): Float32Array {
	return mergeTaskVectors(base, models, {
		weights: opts.weights,
		sparsify: "magnitude",
		densities: opts.densities,
		rescale: opts.rescale ?? false,
		consensus: "sum",
		normalize: opts.normalize ?? true,
		lambda: opts.lambda ?? 1,
		method: "ties",
		tensorName: opts.tensorName,
	});
}
