import { BUILTIN_CHAT_TEMPLATES, isLiteralChatTemplate } from "../chat-templates/builtin.js";
import { RecipeError, type RecipeErrorKind } from "../errors.js";
import { parseDtypeName } from "../io/dtypes.js";
import { readRegularText } from "../io/regular-file.js";
import { issuesToError } from "./issues.js";
import { type ParamSetting, type ParamTable, type RawRecipe, type Recipe, rawRecipeSchema } from "./schema.js";
import { recipeTokenizer } from "./tokenizer-config.js";
import { formatYamlPath } from "./yaml-path.js";
import { MAX_RECIPE_BYTES, readYaml, type YamlSource } from "./yaml-source.js";

type Segments = (string | number)[];

function failAt(source: YamlSource, file: string | undefined, kind: RecipeErrorKind, path: Segments, message: string): RecipeError {
	const pos = source.locate(path);
	const at = pos !== undefined ? ` (line ${pos.line}, column ${pos.col})` : "";
	return new RecipeError(kind, formatYamlPath(path), `${message}${at}`, file);
}

/** Rules that span several keys, and the mergekit features we do not implement yet. */
function checkCrossKeys(raw: RawRecipe, source: YamlSource, file: string | undefined): void {
	const fail = (kind: RecipeErrorKind, path: Segments, message: string) => failAt(source, file, kind, path, message);
	if (raw.models !== undefined && raw.slices !== undefined) {
		throw fail("Schema", ["slices"], "give either models or slices, not both");
	}
	if (raw.models === undefined && raw.slices === undefined) {
		throw fail("Schema", [], "the recipe needs a models or a slices list");
	}
	if (raw.seed !== undefined && raw.random_seed !== undefined) {
		throw fail("Schema", ["random_seed"], "give seed or random_seed, not both");
	}
	if (raw.tokenizer_source != null && raw.tokenizer != null) {
		throw fail("Schema", ["tokenizer"], "give tokenizer_source or tokenizer, not both");
	}
	const template = raw.chat_template;
	if (template != null && template !== "auto" && !BUILTIN_CHAT_TEMPLATES.has(template) && !isLiteralChatTemplate(template)) {
		const names = [...BUILTIN_CHAT_TEMPLATES.keys()].join(", ");
		throw fail(
			"Value",
			["chat_template"],
			`unknown chat template name "${template}": use auto, a built-in name (${names}), or the Jinja template text itself`,
		);
	}
}

function paramTable(raw: Record<string, ParamSetting> | null | undefined, owner: Segments): ParamTable {
	// No prototype: a parameter named `__proto__` (or `constructor`) is an ordinary key, reported as unknown later.
	const table = Object.create(null) as ParamTable;
	for (const [name, setting] of Object.entries(raw ?? {})) {
		table[name] = { setting, path: formatYamlPath([...owner, "parameters", name]) };
	}
	return table;
}

function toRecipe(raw: RawRecipe, text: string, file: string | undefined, source: YamlSource): Recipe {
	const recipe: Recipe = { mergeMethod: raw.merge_method, parameters: paramTable(raw.parameters, []), text };
	if (raw.base_model != null) recipe.baseModel = raw.base_model;
	if (raw.models !== undefined) {
		recipe.models = raw.models.map((m, i) => ({
			model: m.model,
			parameters: paramTable(m.parameters, ["models", i]),
			path: formatYamlPath(["models", i]),
		}));
	}
	if (raw.slices !== undefined) {
		recipe.slices = raw.slices.map((s, i) => ({
			sources: s.sources.map((src, j) => ({
				model: src.model,
				layerRange: [src.layer_range[0], src.layer_range[1]],
				parameters: paramTable(src.parameters, ["slices", i, "sources", j]),
				path: formatYamlPath(["slices", i, "sources", j]),
			})),
			...(s.base_model != null ? { baseModel: s.base_model } : {}),
			parameters: paramTable(s.parameters, ["slices", i]),
			path: formatYamlPath(["slices", i]),
		}));
	}
	if (raw.dtype != null) recipe.dtype = parseDtypeName(raw.dtype);
	if (raw.out_dtype != null) recipe.outDtype = parseDtypeName(raw.out_dtype);
	const tok = recipeTokenizer(raw, (kind, path, message) => failAt(source, file, kind, path, message));
	if (tok.tokenizerSource !== undefined) recipe.tokenizerSource = tok.tokenizerSource;
	if (tok.tokenizer !== undefined) recipe.tokenizer = tok.tokenizer;
	if (raw.chat_template != null) recipe.chatTemplate = raw.chat_template;
	const seed = raw.seed ?? raw.random_seed;
	if (seed !== undefined) recipe.seed = seed;
	if (raw.compat !== undefined) recipe.compat = raw.compat;
	if (raw.truncate_vocab !== undefined) recipe.allowVocabTruncation = raw.truncate_vocab;
	if (raw.name !== undefined) recipe.name = raw.name;
	if (file !== undefined) recipe.file = file;
	return recipe;
}

/**
 * Parses and validates a recipe from YAML text. Throws RecipeError (kinds Yaml, Schema, Value, Unsupported)
 * naming the YAML path, the offending value and its line and column; only the first problem is reported.
 */
export function parseRecipe(text: string, file?: string): Recipe {
	const source = readYaml(text, file);
	const data = source.value;
	if (data === null || data === undefined) throw new RecipeError("Schema", "", "the recipe is empty", file);
	if (typeof data !== "object" || Array.isArray(data)) {
		throw new RecipeError("Schema", "", "a recipe is a mapping (merge_method, models or slices, ...)", file);
	}
	if (Object.hasOwn(data, "modules")) {
		throw failAt(source, file, "Unsupported", ["modules"], "modules (multi-module architectures) are not supported yet");
	}
	const parsed = rawRecipeSchema.safeParse(data);
	if (!parsed.success) throw issuesToError(parsed.error.issues, data, source, file);
	checkCrossKeys(parsed.data, source, file);
	return toRecipe(parsed.data, text, file, source);
}

/** Reads and parses a recipe file, or parses `pathOrText` itself when `opts.isText` is set. */
export async function loadRecipe(pathOrText: string, opts: { isText?: boolean } = {}): Promise<Recipe> {
	if (opts.isText === true) return parseRecipe(pathOrText);
	let text: string;
	try {
		// A FIFO or device (`merge plan /dev/stdin` on a pipe) is refused before anything is read.
		text = await readRegularText(pathOrText, {
			maxBytes: MAX_RECIPE_BYTES,
			fail: (why) => new RecipeError("Yaml", "", `recipe ${why}`, pathOrText),
		});
	} catch (e) {
		if (e instanceof RecipeError) throw e;
		const code = (e as NodeJS.ErrnoException).code;
		throw new RecipeError("Yaml", "", `cannot read the recipe file${code !== undefined ? ` (${code})` : ""}`, pathOrText);
	}
	return parseRecipe(text, pathOrText);
}
