/**
 * `compat: mergekit`: the built-in methods' arithmetic as mergekit performs it through torch in the recipe's dtype
 * (each bf16/f16 op rounds), instead of lm-merge's float32 math rounded once. One kernel per method name; the
 * planner refuses compat for a method without one, the executor calls {@link runCompat} on whole tensors.
 */
import { MethodError } from "../../errors.js";
import type { MergeContext } from "../types.js";
import { arceeFusionCompatKernel } from "./arcee-fusion-compat.js";
import { karcherCompatKernel } from "./karcher-compat.js";
import { linearCompatKernel, passthroughCompatKernel } from "./linear-compat.js";
import { modelStockCompatKernel } from "./model-stock-compat.js";
import { multislerpCompatKernel } from "./multislerp-compat.js";
import { nearswapCompatKernel } from "./nearswap-compat.js";
import { nuslerpCompatKernel } from "./nuslerp-compat.js";
import { sceCompatKernel } from "./sce-compat.js";
import { slerpCompatKernel } from "./slerp-compat.js";
import { TASK_VECTOR_COMPAT_KERNELS } from "./task-vectors-compat.js";
import { type CompatDtype, castInPlace } from "./torch-float.js";
import type { CompatInput, CompatKernel } from "./types.js";

const KERNELS: ReadonlyMap<string, CompatKernel> = new Map(
	[
		linearCompatKernel,
		slerpCompatKernel,
		nuslerpCompatKernel,
		multislerpCompatKernel,
		karcherCompatKernel,
		...TASK_VECTOR_COMPAT_KERNELS,
		sceCompatKernel,
		modelStockCompatKernel,
		nearswapCompatKernel,
		arceeFusionCompatKernel,
		passthroughCompatKernel,
	].map((k) => [k.method, k]),
);

/** Methods that have no compat kernel, and why (for the planner's refusal). */
export const COMPAT_UNSUPPORTED: Readonly<Record<string, string>> = {
	ram: "its bf16 arithmetic has not been checked against a torch reference yet",
	ramplus_tl: "its bf16 arithmetic has not been checked against a torch reference yet",
};

/** The compat kernel of a built-in method, or undefined. */
export function compatKernelFor(method: string): CompatKernel | undefined {
	return KERNELS.get(method);
}

/**
 * Runs one tensor in compat mode: rounds every input to the compute dtype (mergekit casts on load), then the
 * method's kernel. The inputs are consumed (overwritten); the result holds values of `outputDtype(dtype)`.
 */
export function runCompat(method: string, input: Omit<CompatInput, "dtype">, dtype: CompatDtype, ctx: MergeContext): Float32Array {
	const kernel = compatKernelFor(method);
	if (kernel === undefined) {
		throw new MethodError("InvalidInput", method, `compat: mergekit has no kernel for ${method}`);
	}
	if (input.base !== undefined) castInPlace(input.base, dtype);
	for (const m of input.models) castInPlace(m, dtype);
	return kernel.merge({ ...input, dtype }, ctx);
}
