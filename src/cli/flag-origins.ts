import type { Recipe } from "../recipe/schema.js";

/** `density` → `--density`, as quick commands spell parameter flags. */
export function flagName(param: string): string {
	return `--${param.replace(/_/g, "-")}`;
}

/**
 * A quick command builds its recipe from flags, so the YAML paths the planner puts in messages
 * (`parameters.t`, `models[1].parameters.weight`) mean nothing to the user. This relabels every parameter of the
 * built recipe with the flag it came from: `--t`, `--weight`, or `--weight (value 2 of 3)` when the flag gave one
 * value per model. `perModelCounts` holds how many values each per-model flag received.
 */
export function labelFlagOrigins(recipe: Recipe, perModelCounts: ReadonlyMap<string, number>): Recipe {
	for (const [name, entry] of Object.entries(recipe.parameters)) entry.path = flagName(name);
	(recipe.models ?? []).forEach((m, i) => {
		for (const [name, entry] of Object.entries(m.parameters)) {
			const n = perModelCounts.get(name) ?? 1;
			entry.path = n > 1 ? `${flagName(name)} (value ${i + 1} of ${n})` : flagName(name);
		}
	});
	return recipe;
}
