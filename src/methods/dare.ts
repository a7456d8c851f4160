import { rngKey } from "../tensor/rng.js";
import { defineTaskArithmetic, mergeTaskVectors, type Rescale, RNG_PURPOSE_SPARSIFY } from "./task-vector/index.js";

const DARE_URL = "https://arxiv.org/abs/2311.03099";

/** DARE-TIES: random drop with rescale, then TIES sign consensus. */
export const dareTiesMethod = defineTaskArithmetic({
	name: "dare_ties",
	prettyName: "DARE TIES",
	referenceUrl: DARE_URL,
	description:
		"Drop And REscale: keeps each task-vector entry with probability `density` (seeded per tensor and model), " +
		"rescales the survivors, then merges with TIES sign consensus.",
	sparsify: "random",
	consensus: "sum",
	defaultNormalize: false,
	defaultRescale: true,
});

/** DARE-linear: random drop with rescale, then a plain weighted sum of task vectors. */
export const dareLinearMethod = defineTaskArithmetic({
	name: "dare_linear",
	prettyName: "Linear DARE",
	referenceUrl: DARE_URL,
	description:
		"Drop And REscale: keeps each task-vector entry with probability `density` (seeded per tensor and model), " +
		"rescales the survivors, then adds their weighted sum to the base.",
	sparsify: "random",
	consensus: "none",
	defaultNormalize: false,
	defaultRescale: true,
});

/** Options of {@link dare}; per-model arrays are aligned with `models`. */
interface DareOptions {
	weights: readonly number[];
	/** Keep probability per model. */
	densities: readonly number[];
	/** Sign consensus (dare_ties); default true. false gives dare_linear. */
	consensus?: boolean;
	/** true (default) = L1-norm match, "inverse_density" = ÷density (BioMistral-era mergekit), false = none. */
	rescale?: Rescale;
	/** Default 0. */
	seed?: number;
	/** Names the random stream; default "". */
	tensorName?: string;
	/** Default false. */
	normalize?: boolean;
	/** Default 1. */
	lambda?: number;
	/** Position of element 0 within the whole tensor (chunked use); default 0. */
	elementOffset?: number;
}

/**
 * Plain DARE on typed arrays. The streams are rngKey(seed, tensorName, modelIndex, RNG_PURPOSE_SPARSIFY), the same
 * ones the registered methods get from an executor, so both give identical output for the same seed and name.
 */
export function dare(base: Float32Array, models: readonly Float32Array[], opts: DareOptions): Float32Array {
	const seed = opts.seed ?? 0;
	const name = opts.tensorName ?? "";
	const consensus = opts.consensus ?? true;
	return mergeTaskVectors(base, models, {
		weights: opts.weights,
		sparsify: "random",
		densities: opts.densities,
		rescale: opts.rescale ?? true,
		consensus: consensus ? "sum" : "none",
		normalize: opts.normalize ?? false,
		lambda: opts.lambda ?? 1,
		rngKeys: models.map((_, m) => rngKey(seed, name, m, RNG_PURPOSE_SPARSIFY)),
		elementOffset: opts.elementOffset ?? 0,
		method: consensus ? "dare_ties" : "dare_linear",
		tensorName: opts.tensorName,
	});
}
