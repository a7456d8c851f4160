import type { MergeContext } from "../types.js";
import type { CompatDtype } from "./torch-float.js";

/**
 * One output tensor for a `compat: mergekit` kernel. The inputs are already rounded to `dtype` (mergekit casts every
 * tensor to the recipe's dtype on load) and owned by the kernel: it may overwrite them and return one of them.
 */
export interface CompatInput {
	tensorName: string;
	shape: readonly number[];
	/** The dtype mergekit computes in: the recipe's `dtype`, else the inputs' own. */
	dtype: CompatDtype;
	/** The base model's tensor, for methods with a base (undefined otherwise). */
	base: Float32Array | undefined;
	/** The other inputs, in recipe order. */
	models: Float32Array[];
	/** Global parameters resolved for this tensor (the planner fills defaults). */
	params: Record<string, unknown>;
	/** Per-model parameters resolved for this tensor, aligned with `models`. */
	modelParams: Record<string, unknown>[];
}

/** A method's arithmetic as mergekit performs it through torch, for one tensor. */
export interface CompatKernel {
	/** The registered method this reproduces. */
	readonly method: string;
	/** The dtype of the tensor mergekit returns for a compute dtype (arcee_fusion returns float32). */
	outputDtype(dtype: CompatDtype): CompatDtype;
	/** The result: values representable in outputDtype(input.dtype). */
	merge(input: CompatInput, ctx: MergeContext): Float32Array;
}

/** A global parameter as a number (the planner has validated types; `fallback` covers a missing default). */
export function numberParam(values: Record<string, unknown>, key: string, fallback: number): number {
	const v = values[key];
	return typeof v === "number" ? v : fallback;
}

export function booleanParam(values: Record<string, unknown>, key: string, fallback: boolean): boolean {
	const v = values[key];
	return typeof v === "boolean" ? v : fallback;
}
