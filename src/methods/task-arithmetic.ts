/**
 * task_arithmetic (Ilharco et al.): the plain member of the task-vector family, base + λ·Σ wᵢ(xᵢ − base). The
 * engine that runs it (and ties, dare_*, breadcrumbs*, della*) lives in task-vector/.
 */
import { defineTaskArithmetic, mergeTaskVectors } from "./task-vector/index.js";

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
