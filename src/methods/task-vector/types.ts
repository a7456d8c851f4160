/**
 * The vocabulary of the task-vector engine: which sparsifier and combine a variant uses, how kept entries are
 * rescaled, and the defaults mergekit gives the sparsifiers' knobs. Types and facts only (no code), so the method
 * files, the tfjs backend and the mergekit-compat kernels can share them without depending on the float32 loops.
 */

/** How each task vector is thinned before the combine. */
export type SparsifyMethod = "none" | "magnitude" | "random" | "magnitude_outliers" | "della_magprune";

/** "sum": TIES sign election (only entries agreeing with the sign of Σ wᵢδᵢ count); "none": a plain weighted sum. */
export type Consensus = "sum" | "none";

/** How kept entries are rescaled: true = L1-norm match (mergekit ≥ 0.1), "inverse_density" = ÷density (≤ 0.0.6). */
export type Rescale = boolean | "inverse_density";

/** Who is asking, for error messages. */
export interface SparsifyWhere {
	method: string;
	tensorName: string;
}

/** Purpose tag of the random stream used for keep/drop decisions (see MergeContext.rngKey). */
export const RNG_PURPOSE_SPARSIFY = 0;

/** Breadcrumbs' default fraction of the largest-magnitude entries dropped (mergekit's `gamma`). */
export const DEFAULT_GAMMA = 0.01;

/** DELLA's default half-width of the keep-probability band (mergekit's `epsilon`). */
export const DEFAULT_EPSILON = 0.15;

/** How a task-arithmetic variant is configured (mergekit's GeneralizedTaskArithmeticMerge fields). */
export interface TaskArithmeticConfig {
	name: string;
	prettyName: string;
	referenceUrl: string;
	description: string;
	sparsify: SparsifyMethod;
	consensus: Consensus;
	defaultNormalize: boolean;
	defaultRescale: Rescale;
}
