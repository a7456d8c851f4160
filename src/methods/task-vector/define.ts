/**
 * defineTaskArithmetic: a registered method from a TaskArithmeticConfig. The variants (task_arithmetic, ties, dare_*,
 * breadcrumbs*, della*) differ only in their configuration; their parameters are declared in declaration.ts
 * (mergekit's names, defaults, ranges and constraints: the planner checks every recipe against them, and the
 * method's entry checks direct calls, see methods/define.ts). This file wires both forms of the kernel: whole tensors
 * (runTaskVectors) and streamed blocks (taskVectorChunked), which trust the parameters they are given.
 */
import { MethodError } from "../../errors.js";
import { defineMethod } from "../define.js";
import { mayWriteInputs } from "../in-place.js";
import type { MergeMethod, ParamSpec } from "../types.js";
import { taskVectorChunked } from "./chunked.js";
import { constraintsOf, globalParams, perModelParams, type TaskParamValues } from "./declaration.js";
import { checkTaskVectorInputs, runTaskVectors } from "./merge.js";
import { readTaskParams } from "./params.js";
import { RNG_PURPOSE_SPARSIFY, type TaskArithmeticConfig } from "./types.js";

/** The configuration each method built by defineTaskArithmetic was built from. */
const configs = new WeakMap<object, TaskArithmeticConfig>();

/** The configuration of a task-arithmetic variant (for other backends' kernels), or undefined for other methods. */
export function taskArithmeticConfigOf(method: MergeMethod): TaskArithmeticConfig | undefined {
	return configs.get(method);
}

/** Builds a registered method from the shared kernel; the variants differ only in this configuration. */
export function defineTaskArithmetic(config: TaskArithmeticConfig): MergeMethod<TaskParamValues, TaskParamValues> {
	const method = defineVariant(config);
	configs.set(method, config);
	return method;
}

function defineVariant(config: TaskArithmeticConfig): MergeMethod<TaskParamValues, TaskParamValues> {
	const random = config.sparsify === "random" || config.sparsify === "della_magprune";
	return defineMethod<ParamSpec, ParamSpec>({
		name: config.name,
		prettyName: config.prettyName,
		referenceUrl: config.referenceUrl,
		description: config.description,
		base: "required",
		params: globalParams(config),
		modelParams: perModelParams(config.sparsify),
		...(config.sparsify === "none" ? { ignoredModelParams: ["density"] } : {}),
		random,
		...constraintsOf(config.sparsify),
		elementwise: (p, mps) =>
			config.sparsify === "none" ||
			mps.every((mp) => typeof mp.density !== "number" || mp.density >= 1) ||
			(config.sparsify === "random" && p.rescale !== true && p.rescale !== undefined),
		chunked: taskVectorChunked(config),
		merge(input, ctx) {
			const { tensorName, shape, base, models, params: p, modelParams: mps, elementOffset } = input;
			const where = { method: config.name, tensorName };
			if (base === undefined) {
				throw new MethodError("InvalidInput", config.name, `tensor "${tensorName}": a base model is required`);
			}
			checkTaskVectorInputs(base, models, mps.length, where);
			return runTaskVectors(base, models, {
				...readTaskParams(config, p, mps),
				sparsify: config.sparsify,
				consensus: config.consensus,
				...(random ? { rngKeys: models.map((_, m) => ctx.rngKey(m, RNG_PURPOSE_SPARSIFY)) } : {}),
				shape,
				elementOffset: elementOffset ?? 0,
				method: config.name,
				tensorName,
				inPlace: mayWriteInputs(input),
			});
		},
	});
}
