/**
 * defineTaskArithmetic: a registered method from a TaskArithmeticConfig. The variants (task_arithmetic, ties, dare_*,
 * breadcrumbs*, della*) differ only in their configuration; this file declares their parameters (mergekit's names,
 * defaults and ranges, which the planner checks once per recipe) and wires both forms of the kernel: whole tensors
 * (mergeTaskVectors) and streamed blocks (taskVectorChunked).
 */
import { MethodError } from "../../errors.js";
import { defineMethod } from "../define.js";
import { mayWriteInputs } from "../in-place.js";
import type { MergeMethod, ParamSpec } from "../types.js";
import { taskVectorChunked } from "./chunked.js";
import { mergeTaskVectors } from "./merge.js";
import { readTaskParams, type TaskParamValues } from "./params.js";
import { dellaBandProblem } from "./sparsify.js";
import { DEFAULT_EPSILON, DEFAULT_GAMMA, RNG_PURPOSE_SPARSIFY, type TaskArithmeticConfig } from "./types.js";

/** The global parameters of a variant (mergekit names and defaults). */
function globalParams(config: TaskArithmeticConfig): ParamSpec {
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
		lambda: { type: "number", default: 1, description: "Scale of the merged task vector before it is added to the base." },
		int8_mask: { type: "boolean", default: false, description: "Accepted for mergekit compatibility; no numerical effect." },
	};
}

/** The per-model parameters of a variant. */
function perModelParams(config: TaskArithmeticConfig): ParamSpec {
	const spec: ParamSpec = {
		weight: { type: "number", required: true, description: "Weight of this model's task vector." },
		density: { type: "number", default: 1, min: 0, exclusiveMin: true, max: 1, description: "Fraction of the task vector to keep (1 keeps everything)." },
	};
	if (config.sparsify === "magnitude_outliers") {
		spec.gamma = { type: "number", default: DEFAULT_GAMMA, min: 0, max: 1, description: "Fraction of the largest-magnitude entries to drop." };
	}
	if (config.sparsify === "della_magprune") {
		spec.epsilon = {
			type: "number",
			default: DEFAULT_EPSILON,
			min: 0,
			description: "Keep probabilities span [density - epsilon, density + epsilon] by magnitude rank.",
		};
	}
	return spec;
}

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
		modelParams: perModelParams(config),
		...(config.sparsify === "none" ? { ignoredModelParams: ["density"] } : {}),
		random,
		...(config.sparsify === "della_magprune"
			? {
					checkModelParams: (_p: TaskParamValues, mp: TaskParamValues) => {
						const density = typeof mp.density === "number" ? mp.density : 1;
						const message = dellaBandProblem(density, typeof mp.epsilon === "number" ? mp.epsilon : DEFAULT_EPSILON);
						return message !== undefined ? { params: ["density", "epsilon"], message } : undefined;
					},
				}
			: {}),
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
			return mergeTaskVectors(base, models, {
				...readTaskParams(config, p, mps, where),
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
