/**
 * Parameter reading for the task-arithmetic family: the planner's resolved values → the numbers the kernel runs on.
 * Shared by the whole-tensor kernel (merge.ts) and its chunked form (chunked.ts), so both read the same values.
 * Nothing here checks them: the entries did, against the declaration (declaration.ts), or the planner did.
 */

import type { CombineOptions } from "./combine.js";
import type { TaskParamValues } from "./declaration.js";
import { type Consensus, DEFAULT_EPSILON, DEFAULT_GAMMA, type Rescale, type SparsifyMethod, type TaskArithmeticConfig } from "./types.js";

export type { TaskParamValues } from "./declaration.js";

/** Without consensus, mergekit treats a weight sum this close to zero as "do not divide" (divisor 1). */
export const MIN_WEIGHT_SUM = 1e-8;

/** One model's sparsifier settings (1, 0 and 0 where the sparsifier does not use them). */
export interface ModelSettings {
	density: number;
	gamma: number;
	epsilon: number;
}

/** Model m's settings (a column that is absent gives the default). */
export function modelSettings(
	sparsify: SparsifyMethod,
	columns: { densities?: readonly number[] | undefined; gammas?: readonly number[] | undefined; epsilons?: readonly number[] | undefined },
	m: number,
): ModelSettings {
	return {
		density: sparsify !== "none" ? (columns.densities?.[m] ?? 1) : 1,
		gamma: sparsify === "magnitude_outliers" ? (columns.gammas?.[m] ?? DEFAULT_GAMMA) : 0,
		epsilon: sparsify === "della_magprune" ? (columns.epsilons?.[m] ?? DEFAULT_EPSILON) : 0,
	};
}

/** How the weighted contributions are combined; without consensus the divisor is Σ weights (1 when nearly 0). */
export function combineOptions(weights: readonly number[], consensus: Consensus, normalize: boolean, lambda: number): CombineOptions {
	let divisor = weights.reduce((a, b) => a + b, 0);
	if (Math.abs(divisor) < MIN_WEIGHT_SUM) divisor = 1;
	return { consensus: consensus === "sum", normalize, lambda, divisor };
}

/** A variant's parameters for one tensor, as plain columns. */
interface TaskParams {
	weights: number[];
	densities: number[];
	gammas: number[];
	epsilons: number[];
	rescale: Rescale;
	normalize: boolean;
	lambda: number;
}

/** Reads a variant's global and per-model values, defaults filled in (checked before: see the file comment). */
export function readTaskParams(config: TaskArithmeticConfig, params: TaskParamValues, modelParams: readonly TaskParamValues[]): TaskParams {
	const column = (key: string, fallback: number) => modelParams.map((mp) => (mp[key] ?? fallback) as number);
	return {
		weights: column("weight", Number.NaN),
		densities: column("density", 1),
		gammas: column("gamma", DEFAULT_GAMMA),
		epsilons: column("epsilon", DEFAULT_EPSILON),
		rescale: (params.rescale ?? config.defaultRescale) as Rescale,
		normalize: params.normalize === undefined ? config.defaultNormalize : params.normalize === true,
		lambda: (params.lambda ?? 1) as number,
	};
}
