import { MethodError } from "../errors.js";
import { assertInputs, combineOffsets, offsetGram, rowLength } from "../tensor/vector-ops.js";
import { defineMethod } from "./define.js";

/** mergekit's floor for ‖oᵢ‖·‖oⱼ‖ in the cosine: a zero offset then has cosine 0 with everything. */
const MODEL_STOCK_NORM_EPS = 1e-6;
/**
 * 1 + (N−1)·c is ≥ 0 for any N unit vectors and reaches 0 only when they sum to zero; below this the ratio
 * N·c / (1+(N−1)c) is unbounded, so we take t = 0 (the base) instead of mergekit's inf/NaN.
 */
const MODEL_STOCK_DENOM_EPS = 1e-12;

/** Options of {@link modelStock}: one interpolation ratio per tensor, or per row (`filterWise`). */
interface ModelStockOptions {
	/** Compute one t per row (last axis) instead of one per tensor (default false). */
	filterWise?: boolean;
	/** The tensor's shape; needed with `filterWise` (default: one flat vector). */
	shape?: readonly number[];
	/** Used in error messages. */
	tensorName?: string;
}

/**
 * The Model Stock interpolation ratio for N fine-tuned models whose offsets from the base have the given
 * Gram matrix: c = mean pairwise cosine, t = N·c / (1 + (N−1)·c).
 */
export function modelStockRatio(gram: Float64Array, n: number): number {
	let sum = 0;
	for (let i = 0; i < n; i++) {
		for (let j = i + 1; j < n; j++) {
			const denom = Math.max(Math.sqrt(gram[i * n + i]!) * Math.sqrt(gram[j * n + j]!), MODEL_STOCK_NORM_EPS);
			sum += Math.min(1, Math.max(-1, gram[i * n + j]! / denom));
		}
	}
	const c = sum / ((n * (n - 1)) / 2);
	const denom = 1 + (n - 1) * c;
	return denom > MODEL_STOCK_DENOM_EPS ? (n * c) / denom : 0;
}

/**
 * Model Stock: out = t·mean(xᵢ) + (1−t)·base with t from the angle between the offsets xᵢ − base, for the
 * whole tensor or (filterWise) for each row. Written as base + Σ (t/N)·(xᵢ − base) in one pass per row.
 */
export function modelStock(base: Float32Array, models: readonly Float32Array[], opts: ModelStockOptions = {}): Float32Array {
	const name = opts.tensorName ?? "<input>";
	const length = assertInputs("model_stock", name, base, models, opts.shape);
	if (models.length === 0) return Float32Array.from(base);
	const n = models.length;
	if (n < 2) {
		throw new MethodError(
			"InvalidInput",
			"model_stock",
			`tensor "${name}": needs the base and at least 2 other models (3 tensors), got ${n + 1}`,
		);
	}
	const out = new Float32Array(length);
	const rowLen = rowLength(opts.shape ?? [length], length, !(opts.filterWise ?? false));
	const coeffs = new Float64Array(n);
	for (let start = 0; start < length; start += rowLen) {
		const end = start + rowLen;
		const t = modelStockRatio(offsetGram(models, base, start, end), n);
		coeffs.fill(t / n);
		combineOffsets(out, models, coeffs, base, start, end);
	}
	return out;
}

/** Model Stock (Jang et al. 2024): move from the base towards the models' mean by a ratio set by their angle. */
export const modelStockMethod = defineMethod({
	name: "model_stock",
	prettyName: "Model Stock",
	referenceUrl: "https://arxiv.org/abs/2403.19522",
	description:
		"Interpolates between the base and the average of the fine-tuned models with t = N·cos/(1+(N−1)·cos), cos " +
		"being the mean pairwise cosine of the models' offsets from the base; per tensor or per row (filter_wise).",
	base: "required",
	minModels: 2,
	params: {
		filter_wise: { type: "boolean", default: false, description: "One ratio per row instead of per tensor" },
	},
	modelParams: {},
	merge({ tensorName, shape, base, models, params }) {
		if (base === undefined) {
			throw new MethodError("InvalidInput", "model_stock", `tensor "${tensorName}": a base model is required`);
		}
		return modelStock(base, models, { filterWise: params.filter_wise, shape, tensorName });
	},
});
