/**
 * Generalized task arithmetic: the one kernel behind task_arithmetic, ties, dare_*, breadcrumbs* and della*.
 * Per tensor: δᵢ = f32(xᵢ − b) → sparsify each δᵢ → optional sign consensus → weighted sum (÷ divisor when
 * normalizing) → ×λ → + b. Per-element sums over models run in float64 and are rounded to float32 once. The work
 * is done by TaskVectorKernel (task-vector-kernel.ts), over whole arrays here and over streamed blocks in the
 * chunked form; DELLA (row-wise ranks) stores and prunes its task vectors first (task-vector-prepare.ts).
 */
import { MethodError } from "../errors.js";
import type { RngKey } from "../tensor/rng.js";
import { defineMethod } from "./define.js";
import { mayWriteInputs } from "./in-place.js";
import { dellaBandProblem, RNG_PURPOSE_SPARSIFY, type Rescale, type SparsifyWhere } from "./sparsify.js";
import { combineTerms } from "./task-vector-combine.js";
import { taskVectorChunked } from "./task-vector-chunked.js";
import { runWhole, TaskVectorKernel } from "./task-vector-kernel.js";
import { combineOptions, modelSettings, modelValue, readTaskParams, type TaskParamValues } from "./task-vector-params.js";
import { planModel } from "./task-vector-plan.js";
import { prepareDellaTerm } from "./task-vector-prepare.js";
import type { Term } from "./task-vector-term.js";
import type { MergeMethod, ParamSpec } from "./types.js";

export { MIN_WEIGHT_SUM } from "./task-vector-params.js";

export type SparsifyMethod = "none" | "magnitude" | "random" | "magnitude_outliers" | "della_magprune";
export type Consensus = "sum" | "none";

/** Options of {@link mergeTaskVectors}; per-model arrays are aligned with `models`. */
export interface TaskVectorOptions {
	weights: readonly number[];
	/** Default "none". */
	sparsify?: SparsifyMethod;
	/** Fraction of each task vector to keep; default 1 (keep everything). */
	densities?: readonly number[];
	/** Breadcrumbs: fraction of the largest entries to drop; default 0.01. */
	gammas?: readonly number[];
	/** DELLA: half-width of the keep-probability band; default 0.15. */
	epsilons?: readonly number[];
	/** Default false. */
	rescale?: Rescale;
	/** Default "none". */
	consensus?: Consensus;
	/** Divide by Σ weights (of the agreeing models, with consensus); default false. */
	normalize?: boolean;
	/** Scale of the merged task vector; default 1. */
	lambda?: number;
	/** One random stream per model; required by "random" and "della_magprune". */
	rngKeys?: readonly RngKey[];
	/** Tensor shape (della ranks along dim 1); default: one row. */
	shape?: readonly number[];
	/** Position of element 0 within the whole tensor, for random streams; default 0. */
	elementOffset?: number;
	/** For error messages. */
	method?: string;
	tensorName?: string;
	/**
	 * The caller gives up `base` and `models` (MergeInput.inPlace): task vectors are computed in the model arrays and
	 * the result is written into `base`, which is returned. The arrays must not share memory. Default false.
	 */
	inPlace?: boolean;
}

/** A model's random stream (validated when its plan asks for it). */
function streamOf(opts: TaskVectorOptions, m: number, where: SparsifyWhere): () => RngKey {
	return () => {
		const k = opts.rngKeys?.[m];
		if (k === undefined) {
			throw new MethodError("InvalidInput", where.method, `tensor "${where.tensorName}": no random stream for model ${m}`);
		}
		return k;
	};
}

/** DELLA's term for model m (row-wise ranks: δ is stored, pruned, then combined like a dense task vector). */
function dellaTerm(x: Float32Array, base: Float32Array, weight: number, m: number, opts: TaskVectorOptions, where: SparsifyWhere): Term {
	const { density, epsilon } = modelSettings("della_magprune", opts, m, where);
	return prepareDellaTerm(x, base, weight, {
		density,
		epsilon,
		rescale: opts.rescale ?? false,
		key: streamOf(opts, m, where),
		offset: opts.elementOffset ?? 0,
		shape: opts.shape ?? [x.length],
		where,
		inPlace: opts.inPlace === true,
	});
}

/**
 * Merges task vectors onto `base` (spec 1.2 "Generalized task arithmetic", steps 1–7). With consensus "sum" the
 * majority sign at each position is that of Σ wᵢδᵢ (≥ 0 counts as +), only entries of that sign (never zeros) are
 * summed, and the divisor is the sum of their weights (1 where no model agrees). Without consensus the divisor is
 * Σ wᵢ (1 when |Σ wᵢ| < 1e-8). Returns a new array and leaves `base` and `models` unmodified, unless
 * `opts.inPlace`: then the result is written into `base` (DELLA also stores its task vectors in the model arrays).
 *
 * Cost (see docs/benchmarks-kernels.md): TIES / Breadcrumbs read δ in two passes (a sparse sample, then the bracket
 * pass that finds the rank cut) before the fused combine pass; DARE with the L1 rescale one pass (norms and keep
 * bits); the other variants only the combine pass. δ is recomputed from the inputs in every pass, never stored.
 */
export function mergeTaskVectors(base: Float32Array, models: readonly Float32Array[], opts: TaskVectorOptions): Float32Array {
	const where: SparsifyWhere = { method: opts.method ?? "task_arithmetic", tensorName: opts.tensorName ?? "(tensor)" };
	const n = base.length;
	const count = models.length;
	if (opts.weights.length !== count) {
		throw new MethodError("InvalidInput", where.method, `tensor "${where.tensorName}": ${opts.weights.length} weights for ${count} models`);
	}
	const sparsify = opts.sparsify ?? "none";
	const weights = models.map((_, m) => modelValue(opts.weights, m, 1, "weight", where));
	const checkLength = (x: Float32Array, m: number) => {
		if (x.length !== n) {
			throw new MethodError("InvalidInput", where.method, `tensor "${where.tensorName}": model ${m} has ${x.length} elements, base has ${n}`);
		}
	};
	const combine = combineOptions(weights, opts.consensus ?? "none", opts.normalize ?? false, opts.lambda ?? 1);
	const out = opts.inPlace === true ? base : new Float32Array(n);
	if (sparsify === "della_magprune") {
		const terms = models.map((x, m) => {
			checkLength(x, m);
			return dellaTerm(x, base, weights[m]!, m, opts, where);
		});
		return combineTerms(base, terms, combine, out);
	}
	const plans = models.map((x, m) => {
		checkLength(x, m);
		return planModel(sparsify, weights[m]!, m, opts, opts.rescale ?? false, n, streamOf(opts, m, where), where);
	});
	return runWhole(new TaskVectorKernel(plans, combine, where, n, opts.elementOffset ?? 0), models, base, out);
}

/** How a task-arithmetic variant is configured (mergekit's GeneralizedTaskArithmeticMerge fields). */
export interface TaskArithmeticConfig {
	name: string;
	prettyName: string;
	referenceUrl: string;
	description: string;
	sparsify: SparsifyMethod;
	consensus: Consensus;
	defaultNormalize: boolean;
	defaultRescale: Rescale;
}

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

/** DELLA's default half-width of the keep-probability band (mergekit's). */
const DELLA_DEFAULT_EPSILON = 0.15;

/** The per-model parameters of a variant. */
function perModelParams(config: TaskArithmeticConfig): ParamSpec {
	const spec: ParamSpec = {
		weight: { type: "number", required: true, description: "Weight of this model's task vector." },
		density: { type: "number", default: 1, min: 0, exclusiveMin: true, max: 1, description: "Fraction of the task vector to keep (1 keeps everything)." },
	};
	if (config.sparsify === "magnitude_outliers") {
		spec.gamma = { type: "number", default: 0.01, min: 0, max: 1, description: "Fraction of the largest-magnitude entries to drop." };
	}
	if (config.sparsify === "della_magprune") {
		spec.epsilon = {
			type: "number",
			default: DELLA_DEFAULT_EPSILON,
			min: 0,
			description: "Keep probabilities span [density - epsilon, density + epsilon] by magnitude rank.",
		};
	}
	return spec;
}

/** Builds a registered method from the shared kernel; the variants differ only in this configuration. */
export function defineTaskArithmetic(config: TaskArithmeticConfig): MergeMethod<TaskParamValues, TaskParamValues> {
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
						const message = dellaBandProblem(density, typeof mp.epsilon === "number" ? mp.epsilon : DELLA_DEFAULT_EPSILON);
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

/** task_arithmetic: base + λ·Σ wᵢδᵢ (÷ Σ wᵢ only when normalize). */
export const taskArithmeticMethod = defineTaskArithmetic({
	name: "task_arithmetic",
	prettyName: "Task Arithmetic",
	referenceUrl: "https://arxiv.org/abs/2212.04089",
	description: "Adds the weighted sum of task vectors (model minus base) to the base model.",
	sparsify: "none",
	consensus: "none",
	defaultNormalize: false,
	defaultRescale: false,
});

/** Plain task arithmetic on typed arrays: base + λ·Σ wᵢ(xᵢ − base), ÷ Σ wᵢ when `normalize` (default false). */
export function taskArithmetic(
	base: Float32Array,
	models: readonly Float32Array[],
	opts: { weights: readonly number[]; normalize?: boolean; lambda?: number },
): Float32Array {
	return mergeTaskVectors(base, models, { weights: opts.weights, normalize: opts.normalize ?? false, lambda: opts.lambda ?? 1 });
}
