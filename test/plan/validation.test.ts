/**
 * Header-only validation that `merge plan` must do before any tensor I/O (issue 12, items 7, 8, 11, 12): every
 * value a recipe writes is range-checked, DELLA's keep-probability band, the tokenizer source, unknown and
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

const slerp = (t: string, extra = "") =>
	`merge_method: slerp\nbase_model: $A\nmodels: [{model: $A}, {model: $B}]\nparameters:\n  t: ${t}\n${extra}`;

describe("item 7: every gradient anchor and filter value is range-checked", () => {
	test("an anchor no layer lands on exactly is still checked, with its YAML path", async () => {
		// 4 layers read anchors 0, 2, 4 and 6 of 7: anchor 1 (-0.25) is never interpolated, yet it is wrong.
		const err = await planError(slerp("[0, -0.25, 0.3, 0.5, 0.7, 0.9, 1]"));
		expect(err).toBeInstanceOf(PlanError);
		expect((err as PlanError).kind).toBe("InvalidParameter");
		expect(err.message).toMatch(/^parameters\.t\[1\]: slerp parameter "t" = -0\.25 is outside \[0, 1\]$/);
	});

	test("the issue's gradient [0, -0.25, 1]", async () => {
		const err = await planError(slerp("[0, -0.25, 1]"));
		expect(err.message).toContain("parameters.t[1]");
	});

	test("a filter entry shadowed by an earlier one is checked too", async () => {
		const err = await planError(
			slerp("\n    - filter: self_attn\n      value: 0.5\n    - filter: q_proj\n      value: 7\n    - value: 0.5"),
		);
		expect((err as PlanError).kind).toBe("InvalidParameter");
		expect(err.message).toMatch(/^parameters\.t\[1\]\.value: .*= 7 is outside \[0, 1\]/);
	});

	test("per-model gradients inside filter entries, and step lists of the wrong type", async () => {
		const ties = (density: string) =>
			`merge_method: ties\nbase_model: $A\nmodels:\n  - model: $B\n    parameters:\n      weight: 1\n` +
			`      density:\n        - filter: mlp\n          value: ${density}\n        - value: 0.5\n`;
		expect((await planError(ties("[1, 0.5, 1.5, 0.2, 0.5]"))).message).toMatch(
			/^models\[0\]\.parameters\.density\[0\]\.value\[2\]: ties parameter "density" = 1\.5 is outside \(0, 1\]/,
		);
		await expect(plan(ties("[1, 0.5, 0.9, 0.2, 0.5]"))).resolves.toBeDefined();
		const normalize =
			`merge_method: ties\nbase_model: $A\n` +
			`models: [{model: $B, parameters: {weight: 1, density: 0.5}}]\nparameters:\n  normalize: [true, maybe]\n`;
		expect((await planError(normalize)).message).toMatch(
			/^parameters\.normalize\[1\]: ties parameter "normalize" = "maybe" must be true or false$/,
		);
	});

	test("valid gradients and filter lists still plan", async () => {
		await expect(plan(slerp("[0, 0.25, 0.3, 0.5, 0.7, 0.9, 1]"))).resolves.toBeDefined();
		await expect(plan(slerp("\n    - filter: self_attn\n      value: [0, 1]\n    - value: 0.5"))).resolves.toBeDefined();
	});
});

describe("item 8: DELLA's keep probabilities must stay inside (0, 1)", () => {
	const della = (method: string, params: string, top = "") =>
		`merge_method: ${method}\nbase_model: $A\nmodels:\n  - model: $B\n    parameters: {weight: 0.5, ${params}}\n${top}`;

	test.each(["della", "della_linear"])("%s: density 0.5, epsilon 1.35 is refused in plan with the resulting range", async (method) => {
		const err = await planError(della(method, "density: 0.5", "parameters: {epsilon: 1.35}\n"));
		expect((err as PlanError).kind).toBe("InvalidParameter");
		expect(err.message).toContain("[-0.85, 1.85]");
		expect(err.message).toContain("density = 0.5 (models[0].parameters.density)");
		expect(err.message).toContain("epsilon = 1.35 (parameters.epsilon)");
		expect(err.message).toContain("epsilon must be below 0.5");
	});

	test("the default epsilon (0.15) is named as the default when it is the one that breaks the band", async () => {
		const err = await planError(della("della", "density: 0.1"));
		expect(err.message).toContain("epsilon = 0.15 (default)");
		expect(err.message).toMatch(/\[-0\.05, 0\.25\]/);
	});

	test("an upper bound of exactly 1 is refused, as mergekit does; a band inside (0, 1) and density 1 plan", async () => {
		expect((await planError(della("della", "density: 0.5, epsilon: 0.5"))).message).toContain("[0, 1]");
		expect((await planError(della("della", "density: 0.75, epsilon: 0.25"))).message).toContain("[0.5, 1]");
		await expect(plan(della("della", "density: 0.5, epsilon: 0.4"))).resolves.toBeDefined();
		await expect(plan(della("della", "density: 1, epsilon: 3"))).resolves.toBeDefined();
	});

	test("a band that breaks only for some layers names the tensor", async () => {
		const err = await planError(della("della", "density: [0.5, 0.1], epsilon: 0.2"));
		expect((err as PlanError).tensor).toMatch(/^model\.layers\.\d\./);
	});
});

describe("item 11: a tokenizer source must be one of the recipe's models, or base", () => {
	const withSource = (src: string, base = "$A") =>
		`merge_method: slerp\nbase_model: ${base}\nmodels: [{model: $A}, {model: $B}]\nparameters: {t: 0.5}\ntokenizer_source: ${src}\n`;

	test("a path outside the merge (../../../../etc) is refused", async () => {
		const err = await planError(withSource("../../../../etc"));
		expect((err as PlanError).kind).toBe("TokenizerSource");
		expect(err.message).toMatch(/tokenizer_source: "\.\.\/\.\.\/\.\.\/\.\.\/etc" is not one of the recipe's models/);
	});

	test("a real model that is not part of the merge is refused", async () => {
		expect(((await planError(withSource("$C"))) as PlanError).kind).toBe("TokenizerSource");
	});

	test("a reference that resolves to one of the models (another spelling, a symlink) is accepted", async () => {
		const link = path.join(root(), "b-link");
		await symlink(B, link);
		expect((await plan(withSource(link))).tokenizerDir).toBe(B);
		expect((await plan(withSource(`${B}/`))).tokenizerDir).toBe(B);
		expect((await plan(withSource("base"))).tokenizerDir).toBe(A);
	});

	test("an explicit source without tokenizer files is an error; an implicit donor without them is a warning", async () => {
		const explicit =
			`merge_method: slerp\nbase_model: $A\n` + `models: [{model: $A}, {model: $NOTOK}]\nparameters: {t: 0.5}\ntokenizer_source: $NOTOK\n`;
		const err = await planError(explicit);
		expect((err as PlanError).kind).toBe("TokenizerSource");
		expect(err.message).toMatch(/has no tokenizer/);
		const implicit = await plan(`merge_method: slerp\nbase_model: $NOTOK\nmodels: [{model: $NOTOK}, {model: $A}]\nparameters: {t: 0.5}\n`);
		expect(implicit.warnings.join("\n")).toMatch(/has no tokenizer .*the output will have no tokenizer either/);
	});

	test("a tokenizer file that is a FIFO is refused in plan (the copy at the end of the run would hang)", async () => {
		const dir = path.join(root(), "fifo-tok");
		await mkdir(dir, { recursive: true });
		for (const f of ["config.json", "model.safetensors", "tokenizer_config.json"]) await copyFile(path.join(A, f), path.join(dir, f));
		execFileSync("mkfifo", [path.join(dir, "tokenizer.json")]);
		const err = await planError(`merge_method: slerp\nbase_model: ${dir}\nmodels: [{model: ${dir}}, {model: $B}]\nparameters: {t: 0.5}\n`);
		expect((err as PlanError).kind).toBe("TokenizerSource");
		expect(err.message).toMatch(/tokenizer\.json: is a FIFO \(named pipe\), not a regular file/);
	});
});

describe("item 12: __proto__ and unknown parameter names; self-referencing anchors", () => {
	test.each([
		["parameters", "merge_method: slerp\nbase_model: $A\nmodels: [{model: $A}, {model: $B}]\nparameters:\n  t: 0.5\n  __proto__: 3\n"],
		[
			"models[1].parameters",
			"merge_method: slerp\nbase_model: $A\nmodels:\n" +
				"  - model: $A\n  - model: $B\n    parameters:\n      __proto__: 2\nparameters: {t: 0.5}\n",
		],
	])("a __proto__ key under %s is reported as an unknown parameter, not dropped", async (where, yaml) => {
		const err = await planError(yaml);
		expect((err as PlanError).kind).toBe("InvalidParameter");
		expect(err.message).toBe(`${where}.__proto__: unknown parameter "__proto__" (slerp takes: t)`);
	});

	test("a __proto__ key is an own entry of the parsed table, with its path", () => {
		const r = parseRecipe(
			sub("merge_method: slerp\nbase_model: $A\nmodels: [{model: $A}, {model: $B}]\nparameters:\n  t: 0.5\n  __proto__: 2\n"),
		);
		expect(Object.keys(r.parameters)).toEqual(["t", "__proto__"]);
		expect(Object.getOwnPropertyDescriptor(r.parameters, "__proto__")?.value).toEqual({ setting: 2, path: "parameters.__proto__" });
	});

	test("an unknown parameter gets a suggestion", async () => {
		const err = await planError("merge_method: ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 1, densty: 0.5}}]\n");
		expect(err.message).toBe(
			'models[0].parameters.densty: unknown parameter "densty" (did you mean "density"?) ' +
				"(ties takes: normalize, rescale, lambda, int8_mask, weight, density)",
		);
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
