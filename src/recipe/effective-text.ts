import { isMap, isScalar, parseDocument } from "yaml";
import { type FloatDtype, torchDtypeName } from "../io/dtypes.js";
import type { Recipe } from "./schema.js";

/** Settings a merge ran with that may differ from what the recipe text says (command-line overrides). */
interface RecipeOverrides {
	/** The seed used (the recipe's `seed`/`random_seed`, else 0, unless overridden). */
	seed?: number;
	/** The output dtype used (the recipe's `out_dtype`, else `dtype`, unless overridden). */
	outDtype?: FloatDtype;
	/** Whether embeddings were truncated to their common sub-matrix (`truncate_vocab`). */
	truncateVocab?: boolean;
	/** The arithmetic used (`compat`: the recipe's, else float32, unless overridden by `--compat`). */
	compat?: "float32" | "mergekit";
}

/**
 * The recipe text that reproduces a merge: the original text, byte for byte, when nothing was overridden;
 * otherwise the same text with the overridden top-level keys set — `seed` (or `random_seed` when the recipe
 * used mergekit's name), `out_dtype`, `truncate_vocab`, `compat` — each value replaced where it stands or the key appended,
 * so comments and layout stay. Running the result again with no overrides gives the same settings and text.
 */
export function effectiveRecipeText(recipe: Recipe, o: RecipeOverrides): string {
	const changes: [string, string][] = [];
	if (o.seed !== undefined && o.seed !== (recipe.seed ?? 0)) changes.push(["seed", String(o.seed)]);
	if (o.outDtype !== undefined && o.outDtype !== (recipe.outDtype ?? recipe.dtype)) changes.push(["out_dtype", torchDtypeName(o.outDtype)]);
	if (o.truncateVocab === true && recipe.allowVocabTruncation !== true) changes.push(["truncate_vocab", "true"]);
	if (o.compat !== undefined && o.compat !== (recipe.compat ?? "float32")) changes.push(["compat", o.compat]);
	if (changes.length === 0) return recipe.text;
	return editInPlace(recipe.text, changes) ?? rewritten(recipe.text, changes);
}

/** Replaces scalar values by their source range and appends new keys; undefined when the layout does not allow it. */
function editInPlace(text: string, changes: [string, string][]): string | undefined {
	const doc = parseDocument(text);
	const root = doc.contents;
	if (!isMap(root) || root.flow === true || root.range == null || doc.errors.length > 0) return undefined;
	// Appending after the mapping is safe only if nothing but comments and blank lines follows it.
	if (
		text
			.slice(root.range[2])
			.split("\n")
			.some((l) => l.trim() !== "" && !l.trim().startsWith("#"))
	)
		return undefined;
	const edits: { start: number; end: number; value: string }[] = [];
	const appended: string[] = [];
	for (const [name, value] of changes) {
		const key = name === "seed" && root.has("random_seed") ? "random_seed" : name;
		const node = root.get(key, true);
		if (node === undefined) appended.push(`${key}: ${value}`);
		else if (isScalar(node) && node.range != null) {
			const [start, end] = node.range;
			edits.push({ start, end, value: start === end ? ` ${value}` : value });
		} else return undefined;
	}
	let out = text;
	for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.value + out.slice(e.end);
	if (appended.length === 0) return out;
	return `${out}${out === "" || out.endsWith("\n") ? "" : "\n"}${appended.join("\n")}\n`;
}

/** The document re-serialised with the keys set (layout may change), or the keys alone for a text-less recipe. */
function rewritten(text: string, changes: [string, string][]): string {
	const doc = parseDocument(text);
	if (!isMap(doc.contents)) return `${changes.map(([k, v]) => `${k}: ${v}`).join("\n")}\n`;
	for (const [key, value] of changes) {
		const name = key === "seed" && doc.has("random_seed") ? "random_seed" : key;
		doc.set(name, key === "out_dtype" || key === "compat" ? value : key === "truncate_vocab" ? true : Number(value));
	}
	return doc.toString();
}
