/**
 * mergeTaskVectors, generalized task arithmetic on whole arrays: the one kernel behind task_arithmetic, ties, dare_*,
 * breadcrumbs* and della*.
 * Per tensor: δᵢ = f32(xᵢ − b) → sparsify each δᵢ → optional sign consensus → weighted sum (÷ divisor when
 * normalizing) → ×λ → + b. Per-element sums over models run in float64 and are rounded to float32 once. The work
 * is done by TaskVectorKernel (kernel.ts), over whole arrays here and over streamed blocks in the chunked form
 * (chunked.ts); DELLA (row-wise ranks) stores and prunes its task vectors first (prepare.ts).
 */
import { DEBUG_ASSERTS, debugAssert } from "../../debug-assert.js";
import { MethodError } from "../../errors.js";
import type { RngKey } from "../../tensor/rng.js";
import { combineTerms } from "./combine.js";
import { checkTaskVectorOptions } from "./declaration.js";
import { runWhole, TaskVectorKernel } from "./kernel.js";
import { combineOptions, modelSettings } from "./params.js";
import { planModel } from "./plan.js";
import { prepareDellaTerm } from "./prepare.js";
import type { Term } from "./term.js";
import type { Consensus, Rescale, SparsifyMethod, SparsifyWhere } from "./types.js";

/** Options of {@link mergeTaskVectors}; per-model arrays are aligned with `models`. */
export interface TaskVectorOptions {
	weights: readonly number[];
	/** Default "none". */
	sparsify?: SparsifyMethod;
	/** Fraction of each task vector to keep; default 1 (keep everything). */
	densities?: readonly number[];
	/** Breadcrumbs: fraction of the largest entries to drop; default DEFAULT_GAMMA (0.01). */
	gammas?: readonly number[];
	/** DELLA: half-width of the keep-probability band; default DEFAULT_EPSILON (0.15). */
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
	const { density, epsilon } = modelSettings("della_magprune", opts, m);
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

/** Throws MethodError "InvalidInput" unless there is one weight per model and every model has the base's length. */
export function checkTaskVectorInputs(base: Float32Array, models: readonly Float32Array[], weights: number, where: SparsifyWhere): void {
	if (weights !== models.length) {
		throw new MethodError("InvalidInput", where.method, `tensor "${where.tensorName}": ${weights} weights for ${models.length} models`);
	}
	for (let m = 0; m < models.length; m++) {
		if (models[m]!.length !== base.length) {
			const why = `model ${m} has ${models[m]!.length} elements, base has ${base.length}`;
			throw new MethodError("InvalidInput", where.method, `tensor "${where.tensorName}": ${why}`);
		}
	}
}

/**
 * Merges task vectors onto `base` (spec 1.2 "Generalized task arithmetic", steps 1–7). With consensus "sum" the
 * majority sign at each position is that of Σ wᵢδᵢ (≥ 0 counts as +), only entries of that sign (never zeros) are
 * summed, and the divisor is the sum of their weights (1 where no model agrees). Without consensus the divisor is
 * Σ wᵢ (1 when |Σ wᵢ| < 1e-8). Returns a new array and leaves `base` and `models` unmodified, unless
 * `opts.inPlace`: then the result is written into `base` (DELLA also stores its task vectors in the model arrays).
 *
 * The options are checked once, here: the arrays (MethodError "InvalidInput") and the numbers against the
 * variants' declaration (declaration.ts, "InvalidParameter": the ranges a recipe must respect, DELLA's keep band,
 * a TIES density that keeps no element).
 *
 * Cost (see docs/benchmarks-kernels.md): TIES / Breadcrumbs read δ in two passes (a sparse sample, then the bracket
 * pass that finds the rank cut) before the fused combine pass; DARE with the L1 rescale one pass (norms and keep
 * bits); the other variants only the combine pass. δ is recomputed from the inputs in every pass, never stored.
 */
export function mergeTaskVectors(base: Float32Array, models: readonly Float32Array[], opts: TaskVectorOptions): Float32Array {
	const where: SparsifyWhere = { method: opts.method ?? "task_arithmetic", tensorName: opts.tensorName ?? "(tensor)" };
	checkTaskVectorInputs(base, models, opts.weights.length, where);
	checkTaskVectorOptions(opts.sparsify ?? "none", opts, models.length, base.length, where);
	return runTaskVectors(base, models, opts);
}

/**
 * {@link mergeTaskVectors} on options already checked (by its entry, or by the planner for a registered method):
 * the arrays and numbers are trusted; LM_MERGE_DEBUG=1 asserts the array lengths here and the settings in planModel.
 */
export function runTaskVectors(base: Float32Array, models: readonly Float32Array[], opts: TaskVectorOptions): Float32Array {
	const where: SparsifyWhere = { method: opts.method ?? "task_arithmetic", tensorName: opts.tensorName ?? "(tensor)" };
	const n = base.length;
	if (DEBUG_ASSERTS) {
		const match = opts.weights.length === models.length && models.every((x) => x.length === n);
		debugAssert(match, () => `${where.method} tensor "${where.tensorName}": the weights or lengths do not match the models`);
	}
	const sparsify = opts.sparsify ?? "none";
	const weights = opts.weights;
	const combine = combineOptions(weights, opts.consensus ?? "none", opts.normalize ?? false, opts.lambda ?? 1);
	const out = opts.inPlace === true ? base : new Float32Array(n);
	if (sparsify === "della_magprune") {
		const terms = models.map((x, m) => dellaTerm(x, base, weights[m]!, m, opts, where));
		return combineTerms(base, terms, combine, out);
	}
	const rescale = opts.rescale ?? false;
	const settings = (m: number) => modelSettings(sparsify, opts, m);
	const plans = models.map((_, m) => planModel(sparsify, weights[m]!, settings(m), rescale, n, streamOf(opts, m, where), where));
	return runWhole(new TaskVectorKernel(plans, combine, where, n, opts.elementOffset ?? 0), models, base, out);
}
