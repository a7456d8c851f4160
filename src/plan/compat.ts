/**
 * Planning for `compat: mergekit` (recipe key or `--compat mergekit`): which dtype each tensor is computed in, which
 * dtype it is written in, and the checks that refuse what the mode cannot reproduce. Header-only, like all planning.
 */
import { PlanError } from "../errors.js";
import { type Dtype, dtypeBytes, type FloatDtype, torchDtypeName } from "../io/dtypes.js";
import { ARCEE_FUSION_COMPAT_SAMPLE } from "../methods/compat/arcee-fusion-compat.js";
import { COMPAT_UNSUPPORTED, compatKernelFor } from "../methods/compat/registry.js";
import type { CompatDtype } from "../methods/compat/torch-float.js";
import { BUILTIN_METHODS } from "../methods/registry.js";
import type { MergeMethod } from "../methods/types.js";
import { numel } from "../tensor/tensor.js";
import type { TensorJob } from "./types.js";

/** `float32` (the default: float32 math, one rounding to the output dtype) or `mergekit` (mergekit's arithmetic). */
export type CompatMode = "float32" | "mergekit";

/** What every compat job of a plan shares. */
export interface CompatPlan {
	/** The recipe's `dtype` (mergekit casts every input to it on load); undefined keeps each tensor's own. */
	dtype: FloatDtype | undefined;
	/** An explicit output dtype (`--dtype`, else `out_dtype`), or undefined: write what mergekit returns. */
	outDtype: FloatDtype | undefined;
}

function isCompatDtype(d: Dtype): d is CompatDtype {
	return d === "BF16" || d === "F16" || d === "F32";
}

/** Refuses compat: mergekit for a method that has no compat kernel (including methods of a custom registry). */
export function checkCompatMethod(method: MergeMethod): void {
	const kernel = compatKernelFor(method.name);
	if (kernel !== undefined && BUILTIN_METHODS.includes(method)) return;
	const why =
		COMPAT_UNSUPPORTED[method.name] ??
		(kernel === undefined ? "it has no mergekit-compat kernel" : "it is not the built-in method of that name");
	throw new PlanError(
		"InvalidParameter",
		`compat: mergekit is not available for ${method.name}: ${why}; remove compat to merge in float32`,
	);
}

/** Refuses a recipe dtype compat cannot compute in (float64). */
export function checkCompatDtype(dtype: FloatDtype | undefined): void {
	if (dtype !== undefined && !isCompatDtype(dtype)) {
		throw new PlanError(
			"InvalidParameter",
			`compat: mergekit computes in bfloat16, float16 or float32, not ${torchDtypeName(dtype)}; change dtype or remove compat`,
		);
	}
}

/**
 * The compute dtype of one tensor: the recipe's dtype, else the dtype its inputs share (mergekit then keeps each
 * tensor as stored). Inputs of different dtypes without `dtype:` are refused: mergekit's result would depend on
 * torch's type promotion per method.
 */
function compatComputeDtype(plan: CompatPlan, tensor: string, inputDtypes: readonly Dtype[]): CompatDtype {
	if (plan.dtype !== undefined) return plan.dtype as CompatDtype;
	const first = inputDtypes[0]!;
	if (inputDtypes.some((d) => d !== first)) {
		throw new PlanError(
			"InvalidParameter",
			`${tensor}: compat: mergekit needs a recipe dtype when the inputs differ (${[...new Set(inputDtypes)].join(", ")})`,
			tensor,
		);
	}
	if (!isCompatDtype(first)) {
		throw new PlanError(
			"InvalidParameter",
			`${tensor}: compat: mergekit computes in bfloat16, float16 or float32, but the inputs are ${first}; set dtype`,
			tensor,
		);
	}
	return first;
}

/** The job as compat runs it: its compute dtype, and the dtype mergekit writes (arcee_fusion returns float32). */
export function compatJob(job: TensorJob, plan: CompatPlan, inputDtypes: readonly Dtype[]): TensorJob {
	const dtype = compatComputeDtype(plan, job.output.name, inputDtypes);
	const out = plan.outDtype ?? compatKernelFor(job.method.name)!.outputDtype(dtype);
	return {
		...job,
		output: { ...job.output, dtype: out, byteLength: numel(job.output.shape) * dtypeBytes(out) },
		compat: { dtype },
	};
}

/** Notes for `merge plan`: what compat cannot reproduce for this method, and dtype surprises it keeps. */
export function compatWarnings(method: MergeMethod, jobs: readonly TensorJob[], plan: CompatPlan): string[] {
	const warnings: string[] = [];
	if (method.name === "arcee_fusion") {
		const sampled = jobs.filter((j) => j.compat !== undefined && numel(j.output.shape) > ARCEE_FUSION_COMPAT_SAMPLE).length;
		if (sampled > 0) {
			warnings.push(
				`compat: mergekit: ${sampled} tensor(s) above ${ARCEE_FUSION_COMPAT_SAMPLE} elements ` +
					`take arcee_fusion's quantiles from a random sample; ` +
					`mergekit draws it from torch's global generator, ` +
					`lm-merge from its seeded streams, so those tensors cannot match mergekit bit for bit`,
			);
		}
	} else if (method.random === true) {
		warnings.push(
			`compat: mergekit reproduces ${method.name}'s arithmetic, not its random draws: ` +
				`mergekit samples from torch's global generator, lm-merge from its seeded streams, so outputs match mergekit's only in distribution`,
		);
	}
	if (plan.outDtype === undefined && jobs.some((j) => j.compat !== undefined && j.output.dtype === "F32" && j.compat.dtype !== "F32")) {
		warnings.push(
			`compat: mergekit writes ${method.name}'s tensors in float32, as mergekit does (its issue #604); set out_dtype to cast them`,
		);
	}
	return warnings;
}
