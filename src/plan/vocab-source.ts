import type { Recipe } from "../recipe/schema.js";
import { hasTokenizerJson } from "../vocab/tokenizer-files.js";
import type { PlannedModel } from "./types.js";
import { embeddingRows } from "./vocab-jobs.js";
import { planVocabulary, type VocabPlan } from "./vocab-plan.js";

/**
 * The output vocabulary a recipe asks for (`tokenizer_source` or the `tokenizer:` block), or undefined when it names
 * none (the donor's tokenizer files are copied and embeddings merge row by row). `base` or a model whose folder has
 * no tokenizer.json (only tokenizer.model, say) cannot be read: its files are copied as before, with a warning.
 */
export async function vocabularyFor(
	recipe: Recipe,
	models: readonly PlannedModel[],
	indexOf: ReadonlyMap<string, number>,
	donor: number,
	base: number | undefined,
	tokenizerDir: string | undefined,
	warnings: string[],
): Promise<VocabPlan | undefined> {
	const src = recipe.tokenizerSource;
	if (src === undefined) return undefined;
	const mode = src === "union" || src === "base" ? src : "model";
	const dir = mode === "model" ? tokenizerDir : models[donor]!.source.dir;
	if (mode !== "union" && (dir === undefined || !(await hasTokenizerJson(dir)))) {
		warnings.push(
			`tokenizer_source ${src}: ${dir ?? "the model"} has no tokenizer.json, so its vocabulary cannot be checked; ` +
				`its tokenizer files are copied and embeddings merged row by row`,
		);
		return undefined;
	}
	const vocab = await planVocabulary({
		mode,
		models,
		donor,
		base,
		...(mode === "model" && dir !== undefined ? { sourceDir: dir } : {}),
		overrides: recipe.tokenizer?.tokens ?? [],
		indexOf,
		padTo: recipe.tokenizer?.padToMultipleOf,
		embedRows: embeddingRows(models),
	});
	warnings.push(...vocab.warnings);
	return vocab;
}
