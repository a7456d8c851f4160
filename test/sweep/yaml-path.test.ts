import { describe, expect, test } from "vitest";
import { parseDocument } from "yaml";
import { SweepError } from "../../src/errors.js";
import { parseYamlPath, setYamlPath } from "../../src/sweep/yaml-path.js";

describe("parseYamlPath", () => {
	test.each([
		["parameters.t", ["parameters", "t"]],
		["models[1].parameters.density", ["models", 1, "parameters", "density"]],
		["parameters.t[0].value[2]", ["parameters", "t", 0, "value", 2]],
		['parameters["a.b"]', ["parameters", "a.b"]],
		["slices[0].sources[1].parameters.weight", ["slices", 0, "sources", 1, "parameters", "weight"]],
		["dtype", ["dtype"]],
	])("%s", (text, segments) => {
		expect(parseYamlPath(text)).toEqual(segments);
	});

	test.each(["", "parameters.", "parameters..t", "models[x]", "models[1", "parameters t", ".t"])("refuses %j", (text) => {
		expect(() => parseYamlPath(text)).toThrow(SweepError);
	});
});

describe("setYamlPath", () => {
	const recipe =
		"# a comment\nmerge_method: ties\nmodels:\n  - model: a\n    parameters:\n      density: 0.5 # kept\n" +
		"  - model: b\nparameters:\n  normalize: true\n";

	test("replaces a value and keeps comments", () => {
		const doc = parseDocument(recipe);
		setYamlPath(doc, parseYamlPath("models[0].parameters.density"), 0.7, "models[0].parameters.density");
		expect(doc.toJS().models[0].parameters.density).toBe(0.7);
		expect(String(doc)).toContain("# a comment");
	});

	test("adds a missing parameter to an existing mapping", () => {
		const doc = parseDocument(recipe);
		setYamlPath(doc, ["parameters", "lambda"], 2, "parameters.lambda");
		expect(doc.toJS().parameters).toEqual({ normalize: true, lambda: 2 });
	});

	test("creates a model's missing parameters block", () => {
		const doc = parseDocument(recipe);
		setYamlPath(doc, ["models", 1, "parameters", "weight"], 0.3, "models[1].parameters.weight");
		expect(doc.toJS().models[1]).toEqual({ model: "b", parameters: { weight: 0.3 } });
	});

	test("creates a top-level parameters block the recipe lacks", () => {
		const doc = parseDocument("merge_method: slerp\nmodels:\n  - model: a\n");
		setYamlPath(doc, ["parameters", "t"], 0.5, "parameters.t");
		expect(doc.toJS().parameters).toEqual({ t: 0.5 });
	});

	test.each([
		["models[5].parameters.density", "past the end"],
		["modles[0].parameters.density", "has no modles"],
		["models.x", "no mapping"],
		["merge_method.t", "no mapping"],
	])("refuses %s (%s)", (p, why) => {
		const doc = parseDocument(recipe);
		const err = (() => {
			try {
				setYamlPath(doc, parseYamlPath(p), 1, p);
			} catch (e) {
				return e;
			}
			return undefined;
		})();
		expect(err).toBeInstanceOf(SweepError);
		expect((err as SweepError).kind).toBe("Spec");
		expect((err as Error).message).toContain(why);
	});
});
