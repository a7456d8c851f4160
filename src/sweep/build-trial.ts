import { existsSync } from "node:fs";
import path from "node:path";
import { type Document, parseDocument } from "yaml";
import { SweepError } from "../errors.js";
import { parseRecipe } from "../recipe/load.js";
import type { SweepSpec } from "./spec.js";
import { resultKey } from "./trial-key.js";
import type { TrialSpec } from "./trial-types.js";
import { parseYamlPath, setYamlPath } from "./yaml-path.js";

/** Recipe values that are keywords rather than model references. */
const NOT_MODELS = new Set(["base", "union"]);

/**
 * Makes each model reference that names a local folder absolute, as the planner would find it (the
 * working directory first, then the recipe's folder), so a trial means the same models wherever it
 * runs. Repo ids and aliases are left as written: each worker resolves them in its own cache.
 */
function absolutizeModels(doc: Document, recipeDir: string): void {
	const fix = (p: (string | number)[]): void => {
		const v = doc.getIn(p);
		if (typeof v !== "string" || NOT_MODELS.has(v) || path.isAbsolute(v)) return;
		for (const dir of [process.cwd(), recipeDir]) {
			const candidate = path.resolve(dir, v);
			if (existsSync(candidate)) {
				doc.setIn(p, candidate);
				return;
			}
		}
	};
	const js = doc.toJS() as Record<string, unknown> | null;
	if (js === null || typeof js !== "object") return;
	fix(["base_model"]);
	fix(["tokenizer_source"]);
	fix(["tokenizer", "source"]);
	for (const i of (js.models as unknown[] | undefined)?.keys() ?? []) fix(["models", i, "model"]);
	(js.slices as Array<{ sources?: unknown[] }> | undefined)?.forEach((s, i) => {
		fix(["slices", i, "base_model"]);
		for (const j of s.sources?.keys() ?? []) fix(["slices", i, "sources", j, "model"]);
	});
}

/**
 * One trial of a sweep: the base recipe with `params` (recipe path → value) put in, parsed to check
 * it, and keyed by the hash of the resolved recipe plus the eval settings.
 */
export function buildTrial(spec: SweepSpec, params: Record<string, unknown>): TrialSpec {
	const doc = parseDocument(spec.recipe.text);
	for (const [p, value] of Object.entries(params)) setYamlPath(doc, parseYamlPath(p, spec.file), value, p, spec.file);
	absolutizeModels(doc, path.dirname(spec.recipe.file));
	const text = String(doc);
	try {
		parseRecipe(text, spec.recipe.file);
	} catch (err) {
		const values = Object.entries(params)
			.map(([k, v]) => `${k}=${JSON.stringify(v)}`)
			.join(", ");
		throw new SweepError("Spec", `the trial ${values} gives an invalid recipe: ${(err as Error).message}`, spec.file, { cause: err });
	}
	return {
		key: resultKey({ recipe: doc.toJS() as unknown }, spec.eval),
		sweep: spec.name,
		params,
		recipe: { text, file: spec.recipe.file },
		eval: spec.eval,
		merge: spec.merge,
		objective: spec.objective.name,
	};
}
