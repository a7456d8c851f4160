/**
 * The one check of a method's parameters against its declaration (ParamSpec ranges, checkModelParams,
 * checkTensorParams). The planner runs it on every value a recipe writes and every value it resolves, naming the
 * YAML path (plan/resolve-params.ts); the public entries that bypass the planner (`method.merge` and
 * `method.chunked.create` without `paramsChecked`, the plain functions `ties()`, `slerp()`, ...) run it once per
 * call, naming the tensor. The kernels behind them trust their parameters (debug builds assert them).
 */
import { MethodError } from "../errors.js";
import type { MergeMethod, ParamDef, ParamProblem, TensorSize } from "./types.js";

/** What a method declares about its parameters: the part of MergeMethod the check reads. */
export type ParamDeclaration = Pick<
	MergeMethod,
	"name" | "params" | "modelParams" | "ignoredModelParams" | "checkModelParams" | "checkTensorParams"
>;

type Values = Record<string, unknown>;

/** "(0, 1]", "[0, inf)": the range a number must lie in, for messages. */
function describeRange(def: ParamDef): string {
	if (def.type !== "number") return "";
	const lo = def.min === undefined ? "(-inf" : `${def.exclusiveMin ? "(" : "["}${def.min}`;
	const hi = def.max === undefined ? "inf)" : `${def.max}${def.exclusiveMax ? ")" : "]"}`;
	return `${lo}, ${hi}`;
}

/**
 * Why `value` does not fit `def` ("must be finite", "is outside (0, 1]", ...), or undefined when it does. An absent
 * value fits (the default applies; whether a required value is present is the caller's question).
 */
export function paramValueProblem(def: ParamDef, value: unknown): string | undefined {
	if (value === undefined) return undefined;
	switch (def.type) {
		case "number": {
			if (typeof value !== "number") return "must be a number";
			if (!Number.isFinite(value)) return "must be finite";
			if (def.integer === true && !Number.isInteger(value)) return "must be an integer";
			const lowOk = def.min === undefined || (def.exclusiveMin ? value > def.min : value >= def.min);
			const highOk = def.max === undefined || (def.exclusiveMax ? value < def.max : value <= def.max);
			return lowOk && highOk ? undefined : `is outside ${describeRange(def)}`;
		}
		case "boolean":
			return typeof value === "boolean" ? undefined : "must be true or false";
		case "enum":
			return def.values.includes(value as never) ? undefined : `must be one of ${def.values.map((v) => JSON.stringify(v)).join(", ")}`;
	}
}

/** `name = value`, or `name of model m = value` for a per-model value. */
function named(name: string, value: unknown, model: number | undefined): string {
	return `${name}${model !== undefined ? ` of model ${model}` : ""} = ${typeof value === "string" ? JSON.stringify(value) : String(value)}`;
}

/** The values a cross-parameter problem names, as "density of model 0 = 0.5 and epsilon of model 0 = 0.6". */
function describeProblem(method: ParamDeclaration, problem: ParamProblem, params: Values, modelParams: readonly Values[]): string {
	const parts: string[] = [];
	for (const name of problem.params) {
		if (!Object.hasOwn(method.modelParams, name)) parts.push(named(name, params[name], undefined));
		else {
			for (const m of problem.model !== undefined ? [problem.model] : modelParams.keys())
				parts.push(named(name, modelParams[m]?.[name], m));
		}
	}
	return `${parts.join(" and ")}: ${problem.message}`;
}

/**
 * Why one tensor's parameters break `method`'s declaration, or undefined: each global value, each model's values
 * (a required one missing, the wrong type, out of range), then each model's checkModelParams, then
 * checkTensorParams (constraints across models or with the tensor's size). The planner's checks, in its order.
 */
export function methodParamsProblem(
	method: ParamDeclaration,
	params: Values,
	modelParams: readonly Values[],
	tensor: TensorSize,
): string | undefined {
	for (const [name, def] of Object.entries(method.params)) {
		const value = params[name];
		if (value === undefined && def.required === true) return `parameter "${name}" is required`;
		const why = paramValueProblem(def, value);
		if (why !== undefined) return `${named(name, value, undefined)} ${why}`;
	}
	for (let m = 0; m < modelParams.length; m++) {
		const mp = modelParams[m]!;
		for (const [name, def] of Object.entries(method.modelParams)) {
			if (method.ignoredModelParams?.includes(name)) continue;
			const value = mp[name];
			if (value === undefined && def.required === true) return `parameter "${name}" of model ${m} is required`;
			const why = paramValueProblem(def, value);
			if (why !== undefined) return `${named(name, value, m)} ${why}`;
		}
		const problem = method.checkModelParams?.(params, mp);
		if (problem !== undefined) return describeProblem(method, { ...problem, model: m }, params, modelParams);
	}
	const problem = method.checkTensorParams?.(params, modelParams, tensor);
	return problem !== undefined ? describeProblem(method, problem, params, modelParams) : undefined;
}

/** {@link methodParamsProblem} as a MethodError "InvalidParameter" naming the tensor (for callers that bypass the planner). */
export function checkMethodParams(
	method: ParamDeclaration,
	params: Values,
	modelParams: readonly Values[],
	tensor: TensorSize,
	tensorName: string,
): void {
	const why = methodParamsProblem(method, params, modelParams, tensor);
	if (why !== undefined) throw new MethodError("InvalidParameter", method.name, `tensor "${tensorName}": ${why}`);
}

/**
 * Checks one option of a plain function (`slerp(a, b, t)`, `ties(…, { densities })`) against the declaration of the
 * parameter it stands for; `model` names the model of a per-model value. Throws MethodError "InvalidParameter".
 */
export function checkParamValue(method: string, tensorName: string, name: string, def: ParamDef, value: unknown, model?: number): void {
	const why = value === undefined && def.required === true ? "is required" : paramValueProblem(def, value);
	if (why !== undefined) throw new MethodError("InvalidParameter", method, `tensor "${tensorName}": ${named(name, value, model)} ${why}`);
}
