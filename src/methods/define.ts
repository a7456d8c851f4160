import { DEBUG_ASSERTS, debugAssertNoProblem } from "../debug-assert.js";
import { MethodError } from "../errors.js";
import { checkMethodParams, methodParamsProblem } from "./param-check.js";
import type {
	BaseRequirement,
	ChunkedForm,
	MergeContext,
	MergeInput,
	MergeMethod,
	ParamProblem,
	ParamSpec,
	ParamValues,
	TensorSize,
} from "./types.js";

/**
 * What {@link defineMethod} takes: a method's self-description (name, reference, base requirement, parameter tables)
 * and its kernel. The fields mean what they mean on {@link MergeMethod}; `params` and `modelParams` are declared
 * `as const` tables from which the kernel's parameter types are inferred.
 */
export interface MethodSpec<PS extends ParamSpec, MS extends ParamSpec> {
	name: string;
	prettyName: string;
	referenceUrl?: string;
	description: string;
	base: BaseRequirement;
	/** Bounds on the number of non-base models; default 1 and Infinity. */
	minModels?: number;
	maxModels?: number;
	params: PS;
	modelParams: MS;
	ignoredModelParams?: readonly string[];
	random?: boolean;
	/** A constraint between one model's parameters that ranges cannot express; the planner reports the problem it returns. */
	checkModelParams?: (params: ParamValues<PS>, modelParams: ParamValues<MS>) => ParamProblem | undefined;
	/** A constraint across the models' parameters or with the tensor's size; the planner reports it for every tensor. */
	checkTensorParams?: (params: ParamValues<PS>, modelParams: readonly ParamValues<MS>[], tensor: TensorSize) => ParamProblem | undefined;
	/** True when out[i] depends only on the inputs at i for these parameters, so tensors may be split into ranges. */
	elementwise?: (params: ParamValues<PS>, modelParams: ParamValues<MS>[]) => boolean;
	chunked?: ChunkedForm<ParamValues<PS>, ParamValues<MS>>;
	/** The kernel: one tensor (or element range) in, the merged float32 values out. */
	merge(input: MergeInput<ParamValues<PS>, ParamValues<MS>>, ctx: MergeContext): Float32Array;
}

const NAME_RE = /^[a-z][a-z0-9_]*$/;

type Values = Record<string, unknown>;

/**
 * The entry check of a defined method's two forms: the declaration's check (param-check.ts) once per call, unless
 * the caller promises the planner made it (`paramsChecked`); then only LM_MERGE_DEBUG=1 makes it again.
 */
function checkEntry(
	method: MergeMethod,
	params: unknown,
	modelParams: readonly unknown[],
	tensor: TensorSize,
	tensorName: string,
	checked: boolean | undefined,
): void {
	if (checked === true) {
		if (DEBUG_ASSERTS) debugAssertNoProblem(() => methodParamsProblem(method, params as Values, modelParams as Values[], tensor));
		return;
	}
	checkMethodParams(method, params as Values, modelParams as Values[], tensor, tensorName);
}

/**
 * Checks a method spec once, at definition time, and infers the kernel's parameter types from it
 * (the TypeScript counterpart of mergekit's signature inspection). The method's `merge` and `chunked.create` check
 * their parameters against the spec once per call (unless the planner did: `paramsChecked`), then run the spec's
 * kernel, which trusts them.
 */
export function defineMethod<const PS extends ParamSpec, const MS extends ParamSpec>(
	spec: MethodSpec<PS, MS>,
): MergeMethod<ParamValues<PS>, ParamValues<MS>> {
	if (!NAME_RE.test(spec.name)) {
		throw new MethodError("InvalidParameter", spec.name, "method names are snake_case ([a-z][a-z0-9_]*)");
	}
	const minModels = spec.minModels ?? 1;
	const maxModels = spec.maxModels ?? Number.POSITIVE_INFINITY;
	if (minModels < 0 || maxModels < minModels) {
		throw new MethodError("InvalidParameter", spec.name, `bad model bounds [${minModels}, ${maxModels}]`);
	}
	for (const [table, defs] of [
		["params", spec.params],
		["modelParams", spec.modelParams],
	] as const) {
		for (const [key, def] of Object.entries(defs)) {
			if (def.type === "enum" && def.default !== undefined && !def.values.includes(def.default)) {
				throw new MethodError("InvalidParameter", spec.name, `${table}.${key}: default is not one of its values`);
			}
			if (def.type === "number" && def.default !== undefined && !Number.isFinite(def.default)) {
				throw new MethodError("InvalidParameter", spec.name, `${table}.${key}: default must be finite`);
			}
		}
	}
	for (const key of Object.keys(spec.params)) {
		if (key in spec.modelParams) {
			throw new MethodError("InvalidParameter", spec.name, `"${key}" is both a global and a per-model parameter`);
		}
	}
	const kernel = spec.merge;
	const chunked = spec.chunked;
	const method: MergeMethod<ParamValues<PS>, ParamValues<MS>> = Object.freeze({
		name: spec.name,
		prettyName: spec.prettyName,
		...(spec.referenceUrl !== undefined ? { referenceUrl: spec.referenceUrl } : {}),
		description: spec.description,
		base: spec.base,
		minModels,
		maxModels,
		params: spec.params,
		modelParams: spec.modelParams,
		...(spec.ignoredModelParams !== undefined ? { ignoredModelParams: spec.ignoredModelParams } : {}),
		random: spec.random ?? false,
		...(spec.checkModelParams !== undefined ? { checkModelParams: spec.checkModelParams } : {}),
		...(spec.checkTensorParams !== undefined ? { checkTensorParams: spec.checkTensorParams } : {}),
		...(spec.elementwise !== undefined ? { elementwise: spec.elementwise } : {}),
		...(chunked !== undefined
			? {
					chunked: Object.freeze({
						supports: chunked.supports,
						create(input, ctx) {
							const size = { numel: input.numel, shape: input.shape };
							checkEntry(method, input.params, input.modelParams, size, input.tensorName, input.paramsChecked);
							return chunked.create(input, ctx);
						},
					} satisfies ChunkedForm<ParamValues<PS>, ParamValues<MS>>),
				}
			: {}),
		merge(input: MergeInput<ParamValues<PS>, ParamValues<MS>>, ctx: MergeContext): Float32Array {
			const numel = (input.base ?? input.models[0])?.length ?? input.shape.reduce((a, b) => a * b, 1);
			checkEntry(method, input.params, input.modelParams, { numel, shape: input.shape }, input.tensorName, input.paramsChecked);
			return kernel(input, ctx);
		},
	});
	return method;
}
