import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { LmMergeError, PlanError } from "../errors.js";
import { describeFileType } from "../io/regular-file.js";
import { resolveModelRef } from "../model/refs.js";
import { TOKENIZER_FILES, VOCABULARY_FILES } from "../model/tokenizer-files.js";
import type { Recipe } from "../recipe/schema.js";
import type { OpenModelsOptions } from "./open-models.js";
import type { PlannedModel } from "./types.js";

/** The folder holding a model's files (a single-file model's folder). */
function folderOf(m: PlannedModel): string {
	return m.source.dir ?? path.dirname(m.path);
}

async function realOrResolved(p: string): Promise<string> {
	return realpath(p).catch(() => path.resolve(p));
}

/**
 * The model `ref` names among the recipe's models: the same reference string, or one that resolves to the same
 * folder (`mistral` and `mistralai/Mistral-7B-Instruct-v0.1`). Anything else is refused: a tokenizer source outside
 * the merge (`../../../../etc`) would copy arbitrary files, or none, into the output.
 */
async function tokenizerModel(
	ref: string,
	recipe: Recipe,
	models: PlannedModel[],
	indexOf: Map<string, number>,
	opts: OpenModelsOptions,
): Promise<PlannedModel> {
	const direct = indexOf.get(ref);
	if (direct !== undefined) return models[direct]!;
	const refused = () =>
		new PlanError(
			"TokenizerSource",
			`tokenizer_source: "${ref}" is not one of the recipe's models (${models.map((m) => m.ref).join(", ")}); name one of them, or base`,
		);
	let resolved: string;
	try {
		const r = await resolveModelRef(ref, {
			...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
			...(recipe.file !== undefined ? { recipeDir: path.dirname(path.resolve(recipe.file)) } : {}),
			...(opts.env !== undefined ? { env: opts.env } : {}),
			...(opts.aliasesFile !== undefined ? { aliasesFile: opts.aliasesFile } : {}),
			// The recipe's models are resolved (and downloaded) already: a source that needs the Hub is none of them.
			offline: true,
		});
		resolved = await realOrResolved(r.path);
	} catch (err) {
		if (err instanceof LmMergeError) throw refused();
		throw err;
	}
	for (const m of models) if ((await realOrResolved(m.path)) === resolved) return m;
	throw refused();
}

/**
 * Picks the folder whose tokenizer files the output gets (the `tokenizer_source` model, else the donor) and checks
 * those files from their metadata alone: each present one must be a regular file (a FIFO would hang the copy at
 * the very end of the merge), and an explicit source must hold a vocabulary. A donor without tokenizer files is
 * a warning: the output then has none, as its input had none.
 */
export async function planTokenizerDir(
	recipe: Recipe,
	models: PlannedModel[],
	indexOf: Map<string, number>,
	donor: number,
	opts: OpenModelsOptions,
	warnings: string[],
): Promise<string> {
	const src = recipe.tokenizerSource;
	const model =
		src === undefined || src === "base" || src === "union" ? models[donor]! : await tokenizerModel(src, recipe, models, indexOf, opts);
	const dir = folderOf(model);
	const present: string[] = [];
	for (const name of TOKENIZER_FILES) {
		const file = path.join(dir, name);
		const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
			if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
			throw new PlanError("TokenizerSource", `${file}: cannot read the tokenizer file (${err.code ?? err.message})`);
		});
		if (info === undefined) continue;
		if (!info.isFile())
			throw new PlanError(
				"TokenizerSource",
				`${file}: ${describeFileType(info)}, not a regular file; the tokenizer cannot be copied from it`,
			);
		present.push(name);
	}
	if (!VOCABULARY_FILES.some((f) => present.includes(f))) {
		const what = `${model.ref} (${dir}) has no tokenizer (${VOCABULARY_FILES.join(", ")})`;
		if (src !== undefined) throw new PlanError("TokenizerSource", `tokenizer_source: ${what}; name a model that has one`);
		warnings.push(`${what}; the output will have no tokenizer either (set tokenizer_source to a model that has one)`);
	}
	return dir;
}
