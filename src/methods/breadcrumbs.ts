import { defineTaskArithmetic, mergeTaskVectors, type Rescale } from "./task-vector/index.js";

const BREADCRUMBS_URL = "https://arxiv.org/abs/2312.06795";

/** Model Breadcrumbs: drop the largest outliers and the smallest entries of each task vector, then sum. */
export const breadcrumbsMethod = defineTaskArithmetic({
	name: "breadcrumbs",
	prettyName: "Model Breadcrumbs",
	referenceUrl: BREADCRUMBS_URL,
	description:
		"Drops the largest `gamma` fraction of each task vector by magnitude and enough of the smallest to keep a " +
		"`density` fraction, then adds the weighted sum to the base.",
	sparsify: "magnitude_outliers",
	consensus: "none",
	defaultNormalize: false,
	defaultRescale: false,
});

/** Model Breadcrumbs followed by TIES sign consensus. */
export const breadcrumbsTiesMethod = defineTaskArithmetic({
	name: "breadcrumbs_ties",
	prettyName: "Model Breadcrumbs with TIES",
	referenceUrl: BREADCRUMBS_URL,
	description:
		"Breadcrumbs sparsification (drop the largest `gamma` fraction and the smallest entries down to `density`), " +
		"then TIES sign consensus before the weighted sum.",
	sparsify: "magnitude_outliers",
	consensus: "sum",
	defaultNormalize: false,
	defaultRescale: false,
});

/** Options of {@link breadcrumbs}; per-model arrays are aligned with `models`. */
interface BreadcrumbsOptions {
	weights: readonly number[];
	/** Fraction kept per model; default 1. */
	densities?: readonly number[];
	/** Fraction of the largest magnitudes dropped per model; default 0.01. */
	gammas?: readonly number[];
	/** Sign consensus (breadcrumbs_ties); default false. */
	consensus?: boolean;
	/** Default false. */
	normalize?: boolean;
	/** Default 1. */
	lambda?: number;
	/** Default false. */
	rescale?: Rescale;
	tensorName?: string;
}

/** Plain Model Breadcrumbs on typed arrays, one tensor (recipes use the `breadcrumbs` method of {@link BUILTIN_METHODS}). */
export function breadcrumbs(base: Float32Array, models: readonly Float32Array[], opts: BreadcrumbsOptions): Float32Array {
	const consensus = opts.consensus ?? false;
	return mergeTaskVectors(base, models, {
		weights: opts.weights,
		sparsify: "magnitude_outliers",
		densities: opts.densities,
		gammas: opts.gammas,
		rescale: opts.rescale ?? false,
		consensus: consensus ? "sum" : "none",
		normalize: opts.normalize ?? false,
		lambda: opts.lambda ?? 1,
		method: consensus ? "breadcrumbs_ties" : "breadcrumbs",
		tensorName: opts.tensorName,
	});
}
