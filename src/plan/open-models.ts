import path from "node:path";
import { resolveArchitecture } from "../arch/resolve.js";
import { openModelWithAdapter } from "../lora/open.js";
import { resolveModelWithAdapter } from "../model/adapter-ref.js";
import { configJsonOf } from "../model/model-source.js";
import type { ResolveOptions } from "../model/refs.js";
import type { Recipe } from "../recipe/schema.js";
import type { PlannedModel } from "./types.js";

/** Where model references resolve: working folder, alias file, environment, Hub downloads. */
export interface OpenModelsOptions {
	cwd?: string;
	/** Extra alias file (else the default location). */
	aliasesFile?: string;
	env?: NodeJS.ProcessEnv;
	/** Hub downloads of repo ids that are not cached: see ResolveOptions (offline, refresh, onDownload, signal). */
	hub?: Pick<ResolveOptions, "offline" | "refresh" | "onDownload" | "signal">;
}

/** Every model reference a recipe names, in first-appearance order (models/slices, then base models). */
function referencedModels(recipe: Recipe): string[] {
	const refs: string[] = [];
	const add = (r: string | undefined) => {
		if (r !== undefined && !refs.includes(r)) refs.push(r);
	};
	for (const m of recipe.models ?? []) add(m.model);
	for (const s of recipe.slices ?? []) {
		for (const src of s.sources) add(src.model);
		add(s.baseModel);
	}
	add(recipe.baseModel);
	return refs;
}

/**
 * Resolves and opens every model of a recipe (headers only: no tensor data is read). Two references that
 * resolve to the same folder share one entry. Returns the models and a ref → index map.
 */
export async function openRecipeModels(
	recipe: Recipe,
	opts: OpenModelsOptions = {},
): Promise<{ models: PlannedModel[]; indexOf: Map<string, number> }> {
	const models: PlannedModel[] = [];
	const indexOf = new Map<string, number>();
	const byPath = new Map<string, number>();
	const recipeDir = recipe.file !== undefined ? path.dirname(path.resolve(recipe.file)) : undefined;
	try {
		for (const ref of referencedModels(recipe)) {
			const { model: resolved, adapter } = await resolveModelWithAdapter(ref, {
				...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
				...(recipeDir !== undefined ? { recipeDir } : {}),
				...(opts.env !== undefined ? { env: opts.env } : {}),
				...(opts.aliasesFile !== undefined ? { aliasesFile: opts.aliasesFile } : {}),
				...opts.hub,
			});
			const key = adapter !== undefined ? `${path.resolve(resolved.path)}+${path.resolve(adapter.path)}` : path.resolve(resolved.path);
			const existing = byPath.get(key);
			if (existing !== undefined) {
				indexOf.set(ref, existing);
				continue;
			}
			const source = await openModelWithAdapter({ path: resolved.path, ...(adapter !== undefined ? { adapter: adapter.path } : {}) });
			models.push({
				ref,
				path: resolved.path,
				via: resolved.via,
				...(adapter !== undefined ? { adapter: adapter.path } : {}),
				source,
				arch: resolveArchitecture(configJsonOf(source), source.names()),
			});
			byPath.set(key, models.length - 1);
			indexOf.set(ref, models.length - 1);
		}
	} catch (err) {
		await Promise.all(models.map((m) => m.source.close()));
		throw err;
	}
	return { models, indexOf };
}
