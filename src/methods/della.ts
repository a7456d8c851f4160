import { rngKey } from "../tensor/rng.js";
import { defineTaskArithmetic, mergeTaskVectors, RNG_PURPOSE_SPARSIFY } from "./task-vector/index.js";

const DELLA_URL = "https://arxiv.org/abs/2406.11617";

/** DELLA: magnitude-ranked random pruning (MagPrune) with L1 rescale, then TIES sign consensus. */
export const dellaMethod = defineTaskArithmetic({
	name: "della",
	prettyName: "DELLA",
	referenceUrl: DELLA_URL,
	description:
		"DELLA-Merging: within each row, entries keep with a probability rising linearly with their magnitude rank " +
		"from density - epsilon to density + epsilon; survivors are rescaled, then merged with TIES sign consensus.",
	sparsify: "della_magprune",
	consensus: "sum",
	defaultNormalize: true,
	defaultRescale: true,
});

/** DELLA pruning followed by a plain weighted sum of task vectors. */
export const dellaLinearMethod = defineTaskArithmetic({
	name: "della_linear",
	prettyName: "Linear DELLA",
	referenceUrl: DELLA_URL,
	description:
		"DELLA MagPrune (rank-based keep probabilities in [density - epsilon, density + epsilon], rescaled), then the " +
		"weighted sum of task vectors is added to the base without sign consensus.",
	sparsify: "della_magprune",
	consensus: "none",
	defaultNormalize: false,
	defaultRescale: true,
});

/** Options of {@link della}; per-model arrays are aligned with `models`. */
interface DellaOptions {
	weights: readonly number[];
	/** Mean keep probability per model; default 1. */
	densities?: readonly number[];
	/** Half-width of the keep-probability band per model; default 0.15. */
	epsilons?: readonly number[];
	/** Sign consensus (della); default true. false gives della_linear. */
	consensus?: boolean;
	/** L1 rescale of the survivors; default true. */
	rescale?: boolean;
	/** Default: true with consensus, false without (the della / della_linear defaults). */
	normalize?: boolean;
	/** Default 1. */
	lambda?: number;
	/** Tensor shape: keep probabilities are ranked along dim 1; default one row. */
	shape?: readonly number[];
	/** Default 0. */
	seed?: number;
	/** Names the random stream; default "". */
	tensorName?: string;
}

/** Plain DELLA on typed arrays; random streams as in {@link dare}. */
export function della(base: Float32Array, models: readonly Float32Array[], opts: DellaOptions): Float32Array {
	const seed = opts.seed ?? 0;
	const name = opts.tensorName ?? "";
	const consensus = opts.consensus ?? true;
	return mergeTaskVectors(base, models, {
		weights: opts.weights,
		sparsify: "della_magprune",
		densities: opts.densities,
		epsilons: opts.epsilons,
		rescale: opts.rescale ?? true,
		consensus: consensus ? "sum" : "none",
		normalize: opts.normalize ?? consensus,
		lambda: opts.lambda ?? 1,
		rngKeys: models.map((_, m) => rngKey(seed, name, m, RNG_PURPOSE_SPARSIFY)),
		shape: opts.shape,
		method: consensus ? "della" : "della_linear",
		tensorName: opts.tensorName,
	});
}
