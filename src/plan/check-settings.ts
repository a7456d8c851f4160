import type { MergeMethod } from "../methods/types.js";
import { settingLeaves } from "../recipe/params.js";
import type { ParamTable, Recipe } from "../recipe/schema.js";
import { checkParam } from "./resolve-params.js";

/** Every parameter table of a recipe (top level, models, slices, slice sources); each entry carries its YAML path. */
export function paramTables(recipe: Recipe): ParamTable[] {
	const tables: ParamTable[] = [recipe.parameters];
	for (const m of recipe.models ?? []) tables.push(m.parameters);
	for (const s of recipe.slices ?? []) {
		tables.push(s.parameters);
		for (const src of s.sources) tables.push(src.parameters);
	}
	return tables;
}

/**
 * Checks every value the recipe writes for a parameter of `method` against the parameter's type and range: each
 * anchor of a gradient, each element of a step list, each filter entry's value, wherever it sits. The planner
 * also checks the value resolved for each tensor, but a gradient anchor no tensor lands on exactly
 * (`t: [0, -0.25, 1]` over 2 layers reads only 0 and 1) or a filter entry shadowed by an earlier one would
 * otherwise pass unseen. The error names the element's YAML path (`parameters.t[1]`). Reads no model.
 */
export function checkSettingValues(recipe: Recipe, method: MergeMethod): void {
	for (const table of paramTables(recipe)) {
		for (const [name, entry] of Object.entries(table)) {
			if (method.ignoredModelParams?.includes(name)) continue;
			const def = Object.hasOwn(method.params, name)
				? method.params[name]
				: Object.hasOwn(method.modelParams, name)
					? method.modelParams[name]
					: undefined;
			if (def === undefined) continue;
			for (const leaf of settingLeaves(entry.setting, entry.path)) checkParam(method, name, def, leaf.value, leaf.path);
		}
	}
}
