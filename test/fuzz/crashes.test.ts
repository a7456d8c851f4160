/**
 * Every crash the fuzzer (fuzz/, `npm run fuzz`) has found, as a fixed input: each must now be rejected with the
 * project's own error, of the kind given, without printing anything. The comment on each says which run found it.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { RecipeError } from "../../src/errors.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { caught } from "../helpers/errors.js";

const MODELS = "merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: 1\n";

describe("recipe loader", () => {
	let warn: ReturnType<typeof vi.spyOn>;
	beforeEach(() => {
		warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
	});
	afterEach(() => {
		expect(warn).not.toHaveBeenCalled();
		warn.mockRestore();
	});

	test.each([
		// Seed 1, case 9755: an alias inside its own anchor built a circular value; the error message then threw
		// "TypeError: Converting circular structure to JSON".
		["a self-referencing alias under parameters", `${MODELS}parameters:\n  x: &a [*a]\n`, "parameters.x[0]"],
		["a self-referencing alias in a mapping", `${MODELS}parameters:\n  a: &a\n    b: *a\n`, "parameters.a.b"],
		// Seed 1, case 1743: a flow sequence used as a mapping key made the yaml library emit a process warning
		// ("Keys with collection values will be stringified"), printed on stderr.
		["a list as a mapping key", `${MODELS}? [complex, key]\n: value\n`, ""],
		["a mapping as a mapping key", `${MODELS}parameters:\n  ? {a: 1}\n  : 2\n`, "parameters"],
		["an alias of a list as a key", `${MODELS}x: &k [1]\n*k : 2\n`, ""],
		// Found while profiling the fuzzer: the yaml library resolves each alias by walking the document, so 8,000
		// distinct anchors each aliased once took 10 s (quadratic; a 4 MB recipe would take hours). 101 are refused.
		[
			"101 aliases of distinct anchors",
			`merge_method: linear\nmodels:\n${Array.from({ length: 101 }, (_, i) => `  - model: &m${i} m${i}\n`).join("")}` +
				`${Array.from({ length: 101 }, (_, i) => `  - model: *m${i}\n`).join("")}`,
			"models[201].model",
		],
	])("%s is a Yaml RecipeError", (_, text, path) => {
		const err = caught(() => parseRecipe(text, "fuzz.yml"), RecipeError);
		expect(err.kind).toBe("Yaml");
		expect(err.path).toBe(path);
	});
});
