/**
 * Issue 16 item 3: every parameter fact a method declares is checked once, at plan time, naming the recipe's YAML
 * path, before any output exists: besides the ranges (validation.test.ts), the constraints across a tensor's models
 * and with its size (checkTensorParams): a TIES density keeping no element of a small tensor, linear and multislerp
 * weights that cancel out under normalize. These used to surface only when the kernel ran.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { PlanError } from "../../src/errors.js";
import { mergeModels } from "../../src/exec/merge-models.js";
import { buildPlan, closePlan } from "../../src/plan/plan.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { runCli } from "../helpers/cli.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-param-checks-");
let A: string;
let B: string;

beforeAll(async () => {
	A = path.join(root(), "a");
	B = path.join(root(), "b");
	await writeTinyMistral(A, { seed: 1, layers: 2 });
	await writeTinyMistral(B, { seed: 2, base: A });
});

const sub = (s: string) => s.replaceAll("$A", A).replaceAll("$B", B);

/** TIES on A and B; the tiny model's norm weights have 16 elements, its projections 256 or more. */
const ties = (density: string) =>
	`merge_method: ties\nbase_model: $A\nmodels:\n  - model: $B\n    parameters: {weight: 1, density: ${density}}\n`;
const linear = (wa: string, wb: string, extra = "") =>
	`merge_method: linear\nmodels:\n  - model: $A\n    parameters: {weight: ${wa}}\n  - model: $B\n    parameters: {weight: ${wb}}\n${extra}`;
const multislerp = (wa: string, wb: string) =>
	`merge_method: multislerp\nmodels:\n  - model: $A\n    parameters: {weight: ${wa}}\n  - model: $B\n    parameters: {weight: ${wb}}\n`;

async function planError(yaml: string): Promise<PlanError> {
	return rejected(buildPlan(parseRecipe(sub(yaml))), PlanError);
}

async function plans(yaml: string): Promise<void> {
	await closePlan(await buildPlan(parseRecipe(sub(yaml))));
}

describe("checkTensorParams runs at plan time, per planned tensor", () => {
	test("TIES: a density keeping no element of a 16-element tensor names the model's YAML path and the tensor", async () => {
		const err = await planError(ties("0.05"));
		expect(err.kind).toBe("InvalidParameter");
		expect(err.message).toMatch(
			new RegExp(
				/^ties density = 0\.05 \(models\[0\]\.parameters\.density\) of .*\/b: /.source +
					/density 0\.05 keeps no element of 16 \(k = floor\(density·n\) = 0\) \(tensor [a-z_.0-9]*norm\.weight\)$/.source,
			),
		);
		expect(err.tensor).toMatch(/norm\.weight$/);
	});

	test("TIES: the same density plans when every tensor keeps at least one element (1/16 keeps one of 16)", async () => {
		await expect(plans(ties("0.0625"))).resolves.toBeUndefined();
	});

	test("linear: weights cancelling out under normalize name both models' values and the default normalize", async () => {
		const err = await planError(linear("1", "-1"));
		expect(err.kind).toBe("InvalidParameter");
		expect(err.message).toContain("normalize = true (default)");
		expect(err.message).toContain("weight = 1 (models[0].parameters.weight)");
		expect(err.message).toContain("weight = -1 (models[1].parameters.weight)");
		expect(err.message).toContain("cannot normalize");
		await expect(plans(linear("1", "-1", "parameters: {normalize: false}\n"))).resolves.toBeUndefined();
		// Near the float64 limit the weights are compared after the same exact rescale the kernel makes.
		await expect(plans(linear("1e308", "1e308"))).resolves.toBeUndefined();
	});

	test("linear: weights given as gradients are checked per tensor, where they cancel", async () => {
		// Over 2 layers, layer 0 reads the first anchors (1 + 1) and layer 1 the last (1 − 1); the other tensors read 0.
		const err = await planError(linear("[1, 1]", "[1, -1]"));
		expect(err.message).toContain("weight = -1 (models[1].parameters.weight)");
		expect(err.tensor).toMatch(/^model\.layers\.1\./);
		expect(err.message).toContain("cannot normalize");
	});

	test("multislerp: weights cancelling out under normalize_weights", async () => {
		const err = await planError(multislerp("0.5", "-0.5"));
		expect(err.kind).toBe("InvalidParameter");
		expect(err.message).toContain("weight = 0.5 (models[0].parameters.weight)");
		expect(err.message).toContain("weight = -0.5 (models[1].parameters.weight)");
		await expect(plans(multislerp("0.5", "0.25"))).resolves.toBeUndefined();
	});
});

describe("a refused recipe leaves nothing behind", () => {
	test("mergeModels stops at the plan: no output folder, no partial folder, no lock", async () => {
		const out = path.join(root(), "out-ties");
		const err = await rejected(mergeModels(parseRecipe(sub(ties("0.05"))), { out, threads: 1 }), PlanError);
		expect(err.kind).toBe("InvalidParameter");
		expect(existsSync(out)).toBe(false);
		expect(readdirSync(root()).filter((f) => f.startsWith("out-ties"))).toEqual([]);
	});

	test("`merge run` prints one error line naming the YAML path and exits 1; `merge plan` refuses the same recipe", async () => {
		const recipe = path.join(root(), "linear-cancel.yml");
		const { writeFile } = await import("node:fs/promises");
		await writeFile(recipe, sub(linear("1", "-1")));
		const out = path.join(root(), "out-linear");
		const run = await runCli(["run", recipe, "--out", out], { cwd: root() });
		expect(run.exitCode).toBe(1);
		expect(run.stderr.trim().split("\n")).toHaveLength(1);
		expect(run.stderr).toMatch(/^error: linear normalize = true \(default\) and weight = 1 \(models\[0\]\.parameters\.weight\)/);
		expect(existsSync(out)).toBe(false);
		const dry = await runCli(["plan", recipe], { cwd: root() });
		expect(dry.exitCode).toBe(1);
		expect(dry.stderr).toContain("models[1].parameters.weight");
	});
});
