/**
 * mergekit's generalized task arithmetic (task_arithmetic, ties, dare_*, breadcrumbs*, della*) in the recipe's
 * dtype, op for op as generalized_task_arithmetic.py runs it through torch:
 *
 *   δᵢ = xᵢ − b                                   (dtype D, one rounding)
 *   δᵢ = sparsify(δᵢ)                             (sparsify-compat.ts)
 *   wᵢ = torch.tensor(weights, dtype=D)           (each weight rounded: 0.3 → 0.30078125 in bf16)
 *   wδᵢ = δᵢ·wᵢ                                   (D)
 *   consensus: S = Σᵢ wδᵢ (float32 over models, rounded to D); elected sign + where S ≥ 0;
 *              mixed = Σ wδᵢ·[sign(wδᵢ) = elected], divisor = Σ wᵢ·[same], 1 where 0
 *   otherwise: mixed = Σ wδᵢ, divisor = Σ wᵢ, 1 where |divisor| < 1e-8 (1e-8 rounded to D)
 *   normalize: mixed = mixed / divisor (D);  λ ≠ 1: mixed = mixed·λ (λ as float32, rounded to D)
 *   out = b + mixed (D)
 */
import { MethodError } from "../../errors.js";
import { uniformAt } from "../../tensor/rng.js";
import { RNG_PURPOSE_SPARSIFY } from "../task-vector/types.js";
import type { MergeContext } from "../types.js";
import { modelAxisSum } from "./reductions.js";
import { dellaCompat, type KeepDraw, magnitudeCompat, magnitudeOutliersCompat, randomDropCompat } from "./sparsify-compat.js";
import { type CompatDtype, TorchFloat } from "./torch-float.js";
import { booleanParam, type CompatInput, type CompatKernel, numberParam } from "./types.js";

type CompatSparsify = "none" | "magnitude" | "magnitude_outliers" | "random" | "della_magprune";

/** The task-vector variants mergekit registers (its GeneralizedTaskArithmeticMerge settings). */
export const TASK_VECTOR_VARIANTS: Readonly<Record<string, { sparsify: CompatSparsify; consensus: boolean }>> = {
	task_arithmetic: { sparsify: "none", consensus: false },
	ties: { sparsify: "magnitude", consensus: true },
	dare_ties: { sparsify: "random", consensus: true },
	dare_linear: { sparsify: "random", consensus: false },
	breadcrumbs: { sparsify: "magnitude_outliers", consensus: false },
	breadcrumbs_ties: { sparsify: "magnitude_outliers", consensus: true },
	della: { sparsify: "della_magprune", consensus: true },
	della_linear: { sparsify: "della_magprune", consensus: false },
};

/** Everything the arithmetic needs besides the tensors; per-model arrays align with the models. */
interface TaskVectorCompatOptions {
	method: string;
	tensorName: string;
	shape: readonly number[];
	dtype: CompatDtype;
	sparsify: CompatSparsify;
	consensus: boolean;
	weights: readonly number[];
	densities: readonly number[];
	gammas: readonly number[];
	epsilons: readonly number[];
	normalize: boolean;
	lambda: number;
	rescale: boolean | "inverse_density";
	/** Keep decisions of model m's random sparsifier (DARE, DELLA). */
	draw: (m: number) => KeepDraw;
	warn?: (message: string) => void;
}

/**
 * Merges in place: task vectors are formed in the model arrays and the result is written into `base`, which is
 * returned. All values stay representable in `opts.dtype`.
 */
export function taskVectorsCompat(base: Float32Array, models: Float32Array[], opts: TaskVectorCompatOptions): Float32Array {
	const math = new TorchFloat(opts.dtype);
	const where = { method: opts.method, tensorName: opts.tensorName };
	const n = base.length;
	const count = models.length;
	for (let m = 0; m < count; m++) {
		const d = models[m]!;
		if (d.length !== n)
			throw new MethodError("InvalidInput", opts.method, `tensor "${opts.tensorName}": model ${m} has ${d.length} elements, base has ${n}`);
		for (let i = 0; i < n; i++) d[i] = math.sub(d[i]!, base[i]!);
		const density = opts.densities[m] ?? 1;
		if (opts.sparsify === "magnitude") magnitudeCompat(d, density, opts.rescale === true, math, where);
		else if (opts.sparsify === "magnitude_outliers") {
			const zeroed = magnitudeOutliersCompat(d, density, opts.gammas[m] ?? 0.01, opts.rescale === true, math);
			if (zeroed)
				opts.warn?.(
					`gamma·n < 1 in a tensor, where mergekit's Breadcrumbs slice is empty: compat: mergekit zeroes that task vector, as mergekit does`,
				);
		} else if (opts.sparsify === "random") randomDropCompat(d, density, opts.rescale, math, opts.draw(m));
		else if (opts.sparsify === "della_magprune")
			dellaCompat(d, opts.shape, density, opts.epsilons[m] ?? 0.15, opts.rescale === true, math, opts.draw(m), where);
	}
	const w = opts.weights.map((x) => math.fromDouble(x));
	const lambda = math.scalar(opts.lambda);
	const tiny = math.narrow(1e-8);
	let plainDivisor = math.round(modelAxisSum(w));
	if (Math.abs(plainDivisor) < tiny) plainDivisor = 1;
	const wd = new Array<number>(count).fill(0);
	const terms = new Array<number>(count).fill(0);
	const kept = new Array<number>(count).fill(0);
	for (let i = 0; i < n; i++) {
		for (let m = 0; m < count; m++) wd[m] = math.mul(models[m]![i]!, w[m]!);
		let mixed: number;
		let divisor = plainDivisor;
		if (opts.consensus) {
			const elected = math.round(modelAxisSum(wd)) >= 0 ? 1 : -1;
			for (let m = 0; m < count; m++) {
				const agree = Math.sign(wd[m]!) === elected ? 1 : 0;
				terms[m] = wd[m]! * agree;
				kept[m] = w[m]! * agree;
			}
			mixed = math.round(modelAxisSum(terms));
			divisor = math.round(modelAxisSum(kept));
			if (divisor === 0) divisor = 1;
		} else {
			mixed = math.round(modelAxisSum(wd));
		}
		if (opts.normalize) mixed = math.div(mixed, divisor);
		if (opts.lambda !== 1) mixed = math.mul(mixed, lambda);
		base[i] = math.add(base[i]!, mixed);
	}
	return base;
}

/** Reads a variant's resolved parameters and runs it; keep draws come from the seeded stream of each model. */
function mergeVariant(name: string, input: CompatInput, ctx: MergeContext): Float32Array {
	const variant = TASK_VECTOR_VARIANTS[name]!;
	if (input.base === undefined) throw new MethodError("InvalidInput", name, `tensor "${input.tensorName}": a base model is required`);
	const column = (key: string, fallback: number) => input.modelParams.map((mp) => numberParam(mp, key, fallback));
	const rescaleValue = input.params.rescale;
	const rescale = rescaleValue === "inverse_density" ? "inverse_density" : rescaleValue === true;
	return taskVectorsCompat(input.base, input.models, {
		method: name,
		tensorName: input.tensorName,
		shape: input.shape,
		dtype: input.dtype,
		sparsify: variant.sparsify,
		consensus: variant.consensus,
		weights: column("weight", Number.NaN),
		densities: column("density", 1),
		gammas: column("gamma", 0.01),
		epsilons: column("epsilon", 0.15),
		normalize: booleanParam(input.params, "normalize", false),
		lambda: numberParam(input.params, "lambda", 1),
		rescale,
		draw: (m) => {
			const key = ctx.rngKey(m, RNG_PURPOSE_SPARSIFY);
			return (i, p) => uniformAt(key, i) < p;
		},
		warn: (message) => ctx.warn(message),
	});
}

/** The compat kernels of the eight task-vector variants. */
export const TASK_VECTOR_COMPAT_KERNELS: readonly CompatKernel[] = Object.keys(TASK_VECTOR_VARIANTS).map((name) => ({
	method: name,
	outputDtype: (dtype: CompatDtype) => dtype,
	merge: (input: CompatInput, ctx: MergeContext) => mergeVariant(name, input, ctx),
}));
