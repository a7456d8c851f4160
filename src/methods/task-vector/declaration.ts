/**
 * The parameters of the task-arithmetic variants, declared once: mergekit's names, defaults and ranges, and the two
 * constraints ranges cannot express (DELLA's keep band per model, a TIES density keeping no element of a tensor).
 * The registered methods carry this declaration (define.ts), so the planner checks every recipe against it; the
 * plain entries (mergeTaskVectors and the functions built on it) check their options against the same one
 * (checkTaskVectorOptions). The kernels behind them trust their parameters.
 */
import { MethodError } from "../../errors.js";
import { checkMethodParams, methodParamsProblem, type ParamDeclaration } from "../param-check.js";
import type { NumberParamDef, ParamProblem, ParamSpec, TensorSize } from "../types.js";
import { dellaBandProblem, magnitudeKeepProblem } from "./sparsify.js";
import { DEFAULT_EPSILON, DEFAULT_GAMMA, type SparsifyMethod, type SparsifyWhere, type TaskArithmeticConfig } from "./types.js";

/** Resolved parameter values as the planner hands them over (plain numbers, booleans and strings). */
export type TaskParamValues = Record<string, number | boolean | string | undefined>;

const WEIGHT: NumberParamDef = { type: "number", required: true, description: "Weight of this model's task vector." };
const DENSITY: NumberParamDef = {
	type: "number",
	default: 1,
	min: 0,
	exclusiveMin: true,
	max: 1,
	description: "Fraction of the task vector to keep (1 keeps everything).",
};
const GAMMA: NumberParamDef = {
	type: "number",
	default: DEFAULT_GAMMA,
	min: 0,
	max: 1,
	description: "Fraction of the largest-magnitude entries to drop.",
};
const EPSILON: NumberParamDef = {
	type: "number",
	default: DEFAULT_EPSILON,
	min: 0,
	description: "Keep probabilities span [density - epsilon, density + epsilon] by magnitude rank.",
};
const LAMBDA: NumberParamDef = {
	type: "number",
	default: 1,
	description: "Scale of the merged task vector before it is added to the base.",
};

/** The global parameters of a variant (mergekit names and defaults). */
export function globalParams(config: TaskArithmeticConfig): ParamSpec {
	return {
		normalize: {
			type: "boolean",
			default: config.defaultNormalize,
			description: "Divide the merged task vector by the sum of the (agreeing) weights.",
		},
		rescale:
			config.sparsify === "random"
				? {
						type: "enum",
						values: [true, false, "inverse_density"],
						default: config.defaultRescale,
						description: "Rescale kept entries: true = match the L1 norm, inverse_density = divide by density.",
					}
				: {
						type: "boolean",
						default: config.defaultRescale === true,
						description: "Rescale kept entries so the task vector keeps its L1 norm.",
					},
		lambda: LAMBDA,
		int8_mask: { type: "boolean", default: false, description: "Accepted for mergekit compatibility; no numerical effect." },
	};
}

/** The per-model parameters of a variant: weight and density, plus gamma (breadcrumbs) or epsilon (DELLA). */
export function perModelParams(sparsify: SparsifyMethod): ParamSpec {
	return {
		weight: WEIGHT,
		density: DENSITY,
		...(sparsify === "magnitude_outliers" ? { gamma: GAMMA } : {}),
		...(sparsify === "della_magprune" ? { epsilon: EPSILON } : {}),
	};
}

const numberOr = (v: unknown, fallback: number): number => (typeof v === "number" ? v : fallback);

/** DELLA: the keep band [density − epsilon, density + epsilon] of one model must lie in (0, 1). */
function dellaBand(_params: TaskParamValues, mp: TaskParamValues): ParamProblem | undefined {
	const message = dellaBandProblem(numberOr(mp.density, 1), numberOr(mp.epsilon, DEFAULT_EPSILON));
	return message !== undefined ? { params: ["density", "epsilon"], message } : undefined;
}

/** TIES: each model's density must keep at least one element of the tensor (k = floor(density·n) > 0). */
function keepsAnElement(_params: TaskParamValues, modelParams: readonly TaskParamValues[], tensor: TensorSize): ParamProblem | undefined {
	for (let m = 0; m < modelParams.length; m++) {
		const message = magnitudeKeepProblem(tensor.numel, numberOr(modelParams[m]!.density, 1));
		if (message !== undefined) return { params: ["density"], model: m, message: `${message} (k = floor(density·n) = 0)` };
	}
	return undefined;
}

/** The constraints of a variant beyond its ranges: DELLA's band per model, TIES's keep count per tensor. */
export function constraintsOf(sparsify: SparsifyMethod): {
	checkModelParams?: (params: TaskParamValues, mp: TaskParamValues) => ParamProblem | undefined;
	checkTensorParams?: (params: TaskParamValues, modelParams: readonly TaskParamValues[], tensor: TensorSize) => ParamProblem | undefined;
} {
	if (sparsify === "della_magprune") return { checkModelParams: dellaBand };
	if (sparsify === "magnitude") return { checkTensorParams: keepsAnElement };
	return {};
}

/** The declaration the plain entries check against: λ and the per-model parameters and constraints of a sparsifier. */
function declarationOf(sparsify: SparsifyMethod, name: string): ParamDeclaration {
	return {
		name,
		params: { lambda: LAMBDA },
		modelParams: perModelParams(sparsify),
		...(sparsify === "none" ? { ignoredModelParams: ["density"] } : {}),
		...constraintsOf(sparsify),
	};
}

/**
 * Why one model's settings break the declaration for a tensor of n elements, or undefined: what the kernel trusts,
 * for its debug assertions (planModel, prepareDellaTerm), by the same check as the entries'.
 */
export function modelSettingsProblem(sparsify: SparsifyMethod, settings: TaskParamValues, n: number): string | undefined {
	return methodParamsProblem(declarationOf(sparsify, sparsify), {}, [settings], { numel: n, shape: [n] });
}

/** The per-model columns and λ of the plain entry (TaskVectorOptions), as checkTaskVectorOptions reads them. */
interface TaskVectorColumns {
	weights: readonly number[];
	densities?: readonly number[] | undefined;
	gammas?: readonly number[] | undefined;
	epsilons?: readonly number[] | undefined;
	lambda?: number | undefined;
}

/**
 * Checks the numeric options of a plain entry (mergeTaskVectors, ties(), dare(), ...) for `count` models of n
 * elements against the declaration above, with the check the planner uses (param-check.ts): each model's weight,
 * its density, gamma and epsilon where the sparsifier reads them, λ, then the variant's constraints. A column that
 * is given must hold a value for every model. Throws MethodError "InvalidParameter". normalize, rescale and
 * consensus are typed options of those functions, not checked here.
 */
export function checkTaskVectorOptions(
	sparsify: SparsifyMethod,
	opts: TaskVectorColumns,
	count: number,
	n: number,
	where: SparsifyWhere,
): void {
	const declaration = declarationOf(sparsify, where.method);
	const columns = { weight: opts.weights, density: opts.densities, gamma: opts.gammas, epsilon: opts.epsilons };
	const modelParams: TaskParamValues[] = [];
	for (let m = 0; m < count; m++) {
		const mp: TaskParamValues = {};
		for (const [name, column] of Object.entries(columns)) {
			if (column === undefined || !Object.hasOwn(declaration.modelParams, name) || declaration.ignoredModelParams?.includes(name)) continue;
			if (column[m] === undefined) {
				const why = `${name} of model ${m} is missing (${column.length} given for ${count} models)`;
				throw new MethodError("InvalidParameter", where.method, `tensor "${where.tensorName}": ${why}`);
			}
			mp[name] = column[m];
		}
		modelParams.push(mp);
	}
	checkMethodParams(declaration, { lambda: opts.lambda }, modelParams, { numel: n, shape: [n] }, where.tensorName);
}
