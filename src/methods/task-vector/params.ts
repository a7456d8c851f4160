/**
 * Parameter reading for the task-arithmetic family: the planner's resolved values → validated numbers. Shared by
 * the whole-tensor kernel (merge.ts) and its chunked form (chunked.ts), so both read the same
 * values, in the same order, and throw the same errors.
 */
import { MethodError } from "../../errors.js";
import { type Consensus, DEFAULT_EPSILON, DEFAULT_GAMMA, type Rescale, type SparsifyMethod, type SparsifyWhere, type TaskArithmeticConfig } from "./types.js";
import type { CombineOptions } from "./combine.js";

/** Without consensus, mergekit treats a weight sum this close to zero as "do not divide" (divisor 1). */
export const MIN_WEIGHT_SUM = 1e-8;

/** Resolved parameter values as the planner hands them over (plain numbers, booleans and strings). */
export type TaskParamValues = Record<string, number | boolean | string | undefined>;

/** Model m's entry of a per-model column (`fallback` when the column is absent); NaN or a missing entry throws. */
export function modelValue(values: readonly number[] | undefined, m: number, fallback: number, name: string, where: SparsifyWhere): number {
	const v = values === undefined ? fallback : values[m];
	if (typeof v !== "number" || Number.isNaN(v)) {
		throw new MethodError("InvalidParameter", where.method, `tensor "${where.tensorName}": ${name} of model ${m} is ${String(v)}`);
	}
	return v;
}

/** One model's sparsifier settings (1, 0 and 0 where the sparsifier does not use them). */
export interface ModelSettings {
	density: number;
	gamma: number;
	epsilon: number;
}

/** Model m's settings, validated in the kernel's order: density (when sparsifying), then gamma, then epsilon. */
export function modelSettings(
	sparsify: SparsifyMethod,
	columns: { densities?: readonly number[] | undefined; gammas?: readonly number[] | undefined; epsilons?: readonly number[] | undefined },
	m: number,
	where: SparsifyWhere,
): ModelSettings {
	return {
		density: sparsify !== "none" ? modelValue(columns.densities, m, 1, "density", where) : 1,
		gamma: sparsify === "magnitude_outliers" ? modelValue(columns.gammas, m, DEFAULT_GAMMA, "gamma", where) : 0,
		epsilon: sparsify === "della_magprune" ? modelValue(columns.epsilons, m, DEFAULT_EPSILON, "epsilon", where) : 0,
	};
}

/** How the weighted contributions are combined; without consensus the divisor is Σ weights (1 when nearly 0). */
export function combineOptions(weights: readonly number[], consensus: Consensus, normalize: boolean, lambda: number): CombineOptions {
	let divisor = weights.reduce((a, b) => a + b, 0);
	if (Math.abs(divisor) < MIN_WEIGHT_SUM) divisor = 1;
	return { consensus: consensus === "sum", normalize, lambda, divisor };
}

/** A variant's parameters for one tensor, read but not yet checked per model (see {@link modelValue}). */
export interface TaskParams {
	weights: number[];
	densities: number[];
	gammas: number[];
	epsilons: number[];
	rescale: Rescale;
	normalize: boolean;
	lambda: number;
}

function readNumber(values: TaskParamValues, key: string, fallback: number, where: SparsifyWhere): number {
	const v = values[key] ?? fallback;
	if (typeof v !== "number") {
		throw new MethodError("InvalidParameter", where.method, `tensor "${where.tensorName}": ${key} = ${String(v)} is not a number`);
	}
	return v;
}

function readRescale(values: TaskParamValues, fallback: Rescale, where: SparsifyWhere): Rescale {
	const v = values.rescale ?? fallback;
	if (typeof v === "boolean" || v === "inverse_density") return v;
	const why = `rescale = ${String(v)} is not true, false or "inverse_density"`;
	throw new MethodError("InvalidParameter", where.method, `tensor "${where.tensorName}": ${why}`);
}

/** Reads a variant's global and per-model values (weights have no default: a missing one reads as NaN). */
export function readTaskParams(
	config: TaskArithmeticConfig,
	params: TaskParamValues,
	modelParams: readonly TaskParamValues[],
	where: SparsifyWhere,
): TaskParams {
	const column = (key: string, fallback: number) => modelParams.map((mp) => readNumber(mp, key, fallback, where));
	return {
		weights: column("weight", Number.NaN),
		densities: column("density", 1),
		gammas: column("gamma", DEFAULT_GAMMA),
		epsilons: column("epsilon", DEFAULT_EPSILON),
		rescale: readRescale(params, config.defaultRescale, where),
		normalize: params.normalize === undefined ? config.defaultNormalize : params.normalize === true,
		lambda: readNumber(params, "lambda", 1, where),
	};
}
