/**
 * The task-vector engine's one entry: what the method files (task-arithmetic.ts, ties.ts, dare.ts, breadcrumbs.ts,
 * della.ts), the tfjs backend and the public API use. Everything else in this folder is the engine's own.
 */
export { defineTaskArithmetic, taskArithmeticConfigOf } from "./define.js";
export { mergeTaskVectors, type TaskVectorOptions } from "./merge.js";
export { MIN_WEIGHT_SUM } from "./params.js";
export { dellaMagprune, dropAndRescale, magnitudeMask, magnitudeOutliers, RESCALE_MIN_NORM } from "./sparsify.js";
export {
	type Consensus,
	DEFAULT_EPSILON,
	DEFAULT_GAMMA,
	type Rescale,
	RNG_PURPOSE_SPARSIFY,
	type SparsifyMethod,
	type SparsifyWhere,
	type TaskArithmeticConfig,
} from "./types.js";
