import { PlanError } from "../errors.js";
import { paramValueProblem } from "../methods/param-check.js";
import type { MergeMethod, ParamDef, TensorSize } from "../methods/types.js";
import { layerT, lookupParam } from "../recipe/params.js";
import type { OutputTensor, PlanSource } from "./slices.js";
import type { PlannedModel } from "./types.js";

type Value = number | boolean | string | undefined;

/**
 * Checks one value against its definition (the methods' one check, methods/param-check.ts); returns it (numbers
 * stay float64). `tensor` is the output tensor the value was resolved for; without it, the value is one the recipe
 * writes (a gradient anchor, a filter entry's value).
 */
export function checkParam(method: MergeMethod, name: string, def: ParamDef, value: Value, where: string, tensor?: string): Value {
	const why = paramValueProblem(def, value);
	if (why !== undefined) {
		const at = tensor !== undefined ? ` (tensor ${tensor})` : "";
		throw new PlanError("InvalidParameter", `${where}: ${method.name} parameter "${name}" = ${JSON.stringify(value)} ${why}${at}`, tensor);
	}
	return value;
}

interface ResolvedJobParams {
	params: Record<string, Value>;
	modelParams: Record<string, Value>[];
	sources: { params: Record<string, string>; modelParams: Record<string, string>[] };
}

/**
 * Resolves the global parameters (per slice and top level, never per source) and the per-model parameters of
 * every non-base source for one output tensor, with mergekit's precedence, then checks them against the spec:
 * each value, each model's checkModelParams, and, given the tensor's `size`, the method's checkTensorParams.
 */
export function resolveJobParams(
	method: MergeMethod,
	tensor: OutputTensor,
	topParams: Parameters<typeof lookupParam>[1]["topParams"],
	nonBase: PlanSource[],
	models: PlannedModel[],
	size?: TensorSize,
): ResolvedJobParams {
	const t = tensor.layer === undefined ? 0 : layerT(tensor.layer.index, tensor.layer.count);
	const params: Record<string, Value> = {};
	const fromG: Record<string, string> = {};
	for (const [name, def] of Object.entries(method.params)) {
		const found = lookupParam(name, { sliceParams: tensor.slice.params, topParams }, false, tensor.name, t);
		let value: Value = found?.value;
		fromG[name] = found?.path ?? "default";
		if (value === undefined) value = def.default;
		if (value === undefined && def.required === true) {
			throw new PlanError(
				"MissingParameter",
				`${method.name} needs parameter "${name}" for tensor ${tensor.name}, but no value (or filter) in the recipe applies to it; ` +
					`add a fallback entry such as "- value: 0.5"`,
				tensor.name,
			);
		}
		params[name] = checkParam(method, name, def, value, fromG[name]!, tensor.name);
	}
	const modelParams: Record<string, Value>[] = [];
	const fromM: Record<string, string>[] = [];
	for (const src of nonBase) {
		const mp: Record<string, Value> = {};
		const from: Record<string, string> = {};
		for (const [name, def] of Object.entries(method.modelParams)) {
			const found = lookupParam(name, { sourceParams: src.params, sliceParams: tensor.slice.params, topParams }, true, tensor.name, t);
			let value: Value = found?.value;
			from[name] = found?.path ?? "default";
			if (value === undefined) value = def.default;
			if (value === undefined && def.required === true) {
				throw new PlanError(
					"MissingParameter",
					`${method.name} needs parameter "${name}" for model ${models[src.model]!.ref} (${src.path}) at tensor ${tensor.name}, ` +
						`but no value (or filter) applies to it`,
					tensor.name,
				);
			}
			mp[name] = checkParam(method, name, def, value, from[name]!, tensor.name);
		}
		const problem = method.checkModelParams?.(params, mp);
		if (problem !== undefined) {
			const values = problem.params.map((n) => `${n} = ${JSON.stringify(mp[n])} (${from[n] ?? "default"})`).join(" and ");
			throw new PlanError(
				"InvalidParameter",
				`${method.name} ${values} for model ${models[src.model]!.ref}: ${problem.message} (tensor ${tensor.name})`,
				tensor.name,
			);
		}
		modelParams.push(mp);
		fromM.push(from);
	}
	const problem = size !== undefined ? method.checkTensorParams?.(params, modelParams, size) : undefined;
	if (problem !== undefined) {
		const values = problem.params.flatMap((n) =>
			Object.hasOwn(method.modelParams, n)
				? (problem.model !== undefined ? [problem.model] : modelParams.map((_, m) => m)).map(
						(m) => `${n} = ${JSON.stringify(modelParams[m]![n])} (${fromM[m]![n] ?? "default"}) of ${models[nonBase[m]!.model]!.ref}`,
					)
				: [`${n} = ${JSON.stringify(params[n])} (${fromG[n] ?? "default"})`],
		);
		const message = `${method.name} ${values.join(" and ")}: ${problem.message} (tensor ${tensor.name})`;
		throw new PlanError("InvalidParameter", message, tensor.name);
	}
	return { params, modelParams, sources: { params: fromG, modelParams: fromM } };
}
