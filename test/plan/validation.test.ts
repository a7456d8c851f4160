/**
 * Header-only validation that `merge plan` must do before any tensor I/O (issue 12, item 12): unknown and
 * `__proto__` parameter names, and self-referencing YAML anchors.
 */
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { LmMergeError, ModelError, PlanError, RecipeError } from "../../src/errors.js";
import { loadUserAliases } from "../../src/model/aliases.js";
import { buildPlan, closePlan } from "../../src/plan/plan.js";
import type { MergePlan } from "../../src/plan/types.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-validation-");
let A: string; // base, 4 layers
let B: string; // A + delta
let C: string; // A + delta, not in the recipes below
let BARE: string; // A + delta, no tokenizer files

beforeAll(async () => {
	A = path.join(root(), "a");
	B = path.join(root(), "b");
	C = path.join(root(), "c");
	BARE = path.join(root(), "bare");
	await writeTinyMistral(A, { seed: 1, layers: 4 });
	await writeTinyMistral(B, { seed: 2, base: A });
	await writeTinyMistral(C, { seed: 3, base: A });
	await writeTinyMistral(BARE, { seed: 4, layers: 4, tokenizer: false });
});

const sub = (s: string) => s.replaceAll("$NOTOK", BARE).replaceAll("$A", A).replaceAll("$B", B).replaceAll("$C", C);

async function plan(yaml: string, opts: Parameters<typeof buildPlan>[1] = {}): Promise<MergePlan> {
	const p = await buildPlan(parseRecipe(sub(yaml)), opts);
	await closePlan(p);
	return p;
}

/** The error planning `yaml` throws (parse errors included); fails when the plan succeeds. */
async function planError(yaml: string, opts: Parameters<typeof buildPlan>[1] = {}): Promise<LmMergeError> {
	try {
		await plan(yaml, opts);
	} catch (err) {
		if (err instanceof LmMergeError) return err;
		throw err;
	}
	throw new Error("expected the plan to fail");
}

const slerp = (t: string, extra = "") => `merge_method: slerp\nbase_model: $A\nmodels: [{model: $A}, {model: $B}]\nparameters:\n  t: ${t}\n${extra}`;

describe("item 12: __proto__ and unknown parameter names; self-referencing anchors", () => {
	test.each([
		["parameters", "merge_method: slerp\nbase_model: $A\nmodels: [{model: $A}, {model: $B}]\nparameters:\n  t: 0.5\n  __proto__: 3\n"],
		["models[1].parameters", "merge_method: slerp\nbase_model: $A\nmodels:\n  - model: $A\n  - model: $B\n    parameters:\n      __proto__: 2\nparameters: {t: 0.5}\n"],
	])("a __proto__ key under %s is reported as an unknown parameter, not dropped", async (where, yaml) => {
		const err = await planError(yaml);
		expect((err as PlanError).kind).toBe("InvalidParameter");
		expect(err.message).toBe(`${where}.__proto__: unknown parameter "__proto__" (slerp takes: t)`);
	});

	test("a __proto__ key is an own entry of the parsed table, with its path", () => {
		const r = parseRecipe(sub("merge_method: slerp\nbase_model: $A\nmodels: [{model: $A}, {model: $B}]\nparameters:\n  t: 0.5\n  __proto__: 2\n"));
		expect(Object.keys(r.parameters)).toEqual(["t", "__proto__"]);
		expect(Object.getOwnPropertyDescriptor(r.parameters, "__proto__")?.value).toEqual({ setting: 2, path: "parameters.__proto__" });
	});

	test("an unknown parameter gets a suggestion", async () => {
		const err = await planError("merge_method: ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 1, densty: 0.5}}]\n");
		expect(err.message).toBe('models[0].parameters.densty: unknown parameter "densty" (did you mean "density"?) (ties takes: normalize, rescale, lambda, int8_mask, weight, density)');
	});

	test("a self-referencing anchor in a recipe is a one-line YAML error with its path", () => {
		let err: unknown;
		try {
			parseRecipe("merge_method: slerp\nmodels: &m\n  - model: a\n  - *m\n");
		} catch (e) {
			err = e;
		}
		expect(err).toBeInstanceOf(RecipeError);
		expect((err as RecipeError).kind).toBe("Yaml");
		expect((err as RecipeError).path).toBe("models[1]");
		expect((err as Error).message).not.toMatch(/circular/i);
		expect((err as Error).message).toMatch(/self-referencing anchor\) \(line 4, column 5\)$/);
	});

	test("a self-referencing anchor in the alias file is a one-line config error", async () => {
		const file = path.join(root(), "aliases.yaml");
		await writeFile(file, "aliases: &a\n  x: *a\n");
		const err = await loadUserAliases({ aliasesFile: file }).then(
			() => undefined,
			(e: unknown) => e,
		);
		expect(err).toBeInstanceOf(ModelError);
		expect((err as ModelError).kind).toBe("InvalidConfig");
		expect((err as Error).message).toBe(`${file}: aliases.x: an alias refers to a node that contains it (a self-referencing anchor)`);
		await rm(file);
	});
});
