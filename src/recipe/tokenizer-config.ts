import type { RawRecipe, RecipeTokenizer, RecipeTokenOverride } from "./schema.js";
import { formatYamlPath } from "./yaml-path.js";

type Segments = (string | number)[];

/** A reporter for recipe problems: the kind, the YAML path and the message (load.ts adds line and column). */
type RecipeFail = (kind: "Schema" | "Value", path: Segments, message: string) => Error;

/** `model:X` (the explicit spelling of a model reference as a tokenizer source) → `X`. */
function sourceRef(s: string): string {
	return s.startsWith("model:") ? s.slice("model:".length) : s;
}

/**
 * The tokenizer settings of a recipe: `tokenizer_source` (union, base or a model) or the `tokenizer:` block, whose
 * source defaults to union as in mergekit, with its `tokens` overrides and `pad_to_multiple_of`. Checks what the schema
 * cannot (a `source` on every token entry, `token` or `token_id` on model_token sources).
 */
export function recipeTokenizer(raw: RawRecipe, fail: RecipeFail): { tokenizerSource?: string; tokenizer?: RecipeTokenizer } {
	if (raw.tokenizer_source != null) return { tokenizerSource: sourceRef(raw.tokenizer_source) };
	const block = raw.tokenizer;
	if (block == null) return {};
	const tokens: RecipeTokenOverride[] = [];
	for (const [token, entry] of Object.entries(block.tokens ?? {})) {
		const at: Segments = ["tokenizer", "tokens", token];
		const path = formatYamlPath(at);
		const s = entry.source;
		if (s == null)
			throw fail(
				"Schema",
				at,
				`give a source for the token's embedding (a model, {kind: model_token, model, token|token_id} or {kind: zero})`,
			);
		let source: RecipeTokenOverride["source"];
		if (typeof s === "string") source = { kind: "model", model: s };
		else if (s.kind === "zero") source = { kind: "zero" };
		else {
			if ((s.token === undefined) === (s.token_id === undefined))
				throw fail("Schema", [...at, "source"], "a model_token source takes exactly one of token and token_id");
			source = {
				kind: "model_token",
				model: s.model,
				...(s.token !== undefined ? { token: s.token } : {}),
				...(s.token_id !== undefined ? { tokenId: s.token_id } : {}),
			};
		}
		tokens.push({ token, source, force: entry.force ?? false, path });
	}
	const source = sourceRef(block.source ?? "union");
	const tokenizer: RecipeTokenizer = {
		source,
		tokens,
		...(block.pad_to_multiple_of != null ? { padToMultipleOf: block.pad_to_multiple_of } : {}),
	};
	return { tokenizerSource: source, tokenizer };
}
