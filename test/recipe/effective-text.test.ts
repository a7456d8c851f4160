import { describe, expect, test } from "vitest";
import { effectiveRecipeText } from "../../src/recipe/effective-text.js";
import { parseRecipe } from "../../src/recipe/load.js";

const BASE =
	"# keep me\nmerge_method: dare_ties\nbase_model: a\n" +
	"models:\n  - model: b # inline note\n    parameters: {weight: 0.5, density: 0.5}\ndtype: bfloat16\n";

describe("effectiveRecipeText", () => {
	test("no override, or overrides equal to what the recipe says, returns the text byte for byte", () => {
		const r = parseRecipe(`${BASE}seed: 3\n`);
		expect(effectiveRecipeText(r, {})).toBe(r.text);
		expect(effectiveRecipeText(r, { seed: 3, outDtype: "BF16", truncateVocab: false })).toBe(r.text);
		// No seed in the recipe means 0.
		expect(effectiveRecipeText(parseRecipe(BASE), { seed: 0 })).toBe(BASE);
	});

	test("a seed override replaces the recipe's seed in place, or is added; comments stay", () => {
		const replaced = effectiveRecipeText(parseRecipe(`${BASE}seed: 3\n`), { seed: 7 });
		expect(replaced).toBe(`${BASE}seed: 7\n`);
		const added = effectiveRecipeText(parseRecipe(BASE), { seed: 7 });
		expect(added).toContain("# keep me");
		expect(added).toContain("# inline note");
		expect(parseRecipe(added).seed).toBe(7);
	});

	test("mergekit's random_seed is updated under its own name (a recipe may not carry both)", () => {
		const text = effectiveRecipeText(parseRecipe(`${BASE}random_seed: 1\n`), { seed: 9 });
		expect(text).toMatch(/^random_seed: 9$/m);
		expect(text).not.toMatch(/^seed:/m);
		expect(parseRecipe(text).seed).toBe(9);
	});

	test("a dtype override becomes out_dtype (dtype stays the recipe's); truncation becomes truncate_vocab", () => {
		const text = effectiveRecipeText(parseRecipe(BASE), { outDtype: "F32", truncateVocab: true });
		const r = parseRecipe(text);
		expect(r.outDtype).toBe("F32");
		expect(r.dtype).toBe("BF16");
		expect(r.allowVocabTruncation).toBe(true);
	});

	test("a --compat override becomes the compat key; the recipe's own compat is kept when not overridden", () => {
		const text = effectiveRecipeText(parseRecipe(BASE), { compat: "mergekit" });
		expect(text).toBe(`${BASE}compat: mergekit\n`);
		expect(parseRecipe(text).compat).toBe("mergekit");
		expect(effectiveRecipeText(parseRecipe(BASE), { compat: "float32" })).toBe(BASE);
		const own = `${BASE}compat: mergekit\n`;
		expect(effectiveRecipeText(parseRecipe(own), { compat: "mergekit" })).toBe(own);
		expect(parseRecipe(effectiveRecipeText(parseRecipe(own), { compat: "float32" })).compat).toBe("float32");
	});

	test("values are replaced where they stand and new keys appended, so the rest of the text is unchanged", () => {
		const text = effectiveRecipeText(parseRecipe(`${BASE}out_dtype: float16 # small\nseed: 3\n# trailing comment\n`), {
			seed: 12,
			outDtype: "F32",
		});
		expect(text).toBe(`${BASE}out_dtype: float32 # small\nseed: 12\n# trailing comment\n`);
		expect(effectiveRecipeText(parseRecipe("merge_method: linear\nmodels: [{model: a}]"), { seed: 1 })).toBe(
			"merge_method: linear\nmodels: [{model: a}]\nseed: 1\n",
		);
		expect(effectiveRecipeText(parseRecipe("merge_method: linear\nmodels: [{model: a}]\nout_dtype:\n"), { outDtype: "F16" })).toBe(
			"merge_method: linear\nmodels: [{model: a}]\nout_dtype: float16\n",
		);
	});

	test("a flow-style recipe is re-serialised with the keys set", () => {
		const text = effectiveRecipeText(parseRecipe("{merge_method: linear, models: [{model: a}]}\n"), { seed: 4 });
		expect(parseRecipe(text).seed).toBe(4);
		expect(parseRecipe(text).mergeMethod).toBe("linear");
	});

	test("the result is a fixed point: applying the same settings to it changes nothing", () => {
		const once = effectiveRecipeText(parseRecipe(BASE), { seed: 5, outDtype: "F16" });
		expect(effectiveRecipeText(parseRecipe(once), { seed: 5, outDtype: "F16" })).toBe(once);
	});
});
