import { buildPlan, closePlan, type PlanOptions } from "../plan/plan.js";
import { loadRecipe } from "../recipe/load.js";
import type { Recipe } from "../recipe/schema.js";
import type { MergeEvent, MergeResult } from "./events.js";
import { drainMerge, type RunOptions, runMerge } from "./run.js";

/** Options of {@link mergeModels}: how the recipe is planned ({@link PlanOptions}) and run ({@link RunOptions}). */
export type MergeModelsOptions = PlanOptions & RunOptions;

/** A recipe object, or a path to a YAML recipe file. */
export type RecipeInput = Recipe | string;

async function toRecipe(input: RecipeInput): Promise<Recipe> {
	return typeof input === "string" ? loadRecipe(input) : input;
}

/**
 * Plans and runs a merge, yielding progress events; the return value is the MergeResult.
 * Every check that needs only headers runs before the first tensor is read.
 */
export async function* mergeModelsIter(input: RecipeInput, opts: MergeModelsOptions): AsyncGenerator<MergeEvent, MergeResult> {
	const plan = await buildPlan(await toRecipe(input), opts);
	try {
		return yield* runMerge(plan, opts);
	} finally {
		await closePlan(plan);
	}
}

/** Runs a merge to completion; `onEvent` receives each progress event. */
export async function mergeModels(
	input: RecipeInput,
	opts: MergeModelsOptions & { onEvent?: (e: MergeEvent) => void },
): Promise<MergeResult> {
	return drainMerge(mergeModelsIter(input, opts), opts.onEvent);
}
