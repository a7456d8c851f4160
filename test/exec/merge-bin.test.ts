/**
 * Merging a PyTorch `.bin` checkpoint gives the same bytes as merging its safetensors twin (written by
 * scripts/torch-bin/generate.py from the same torch tensors): whole-tensor and streamed kernels, one thread and worker
 * threads, zip, legacy and sharded `.bin` folders.
 */
import { cp, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, expect, test } from "vitest";
import { mergeModels } from "../../src/exec/merge-models.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const FIXTURES = path.join(REPO_ROOT, "test", "fixtures", "torch-bin");
const root = useTempDir("lm-merge-merge-bin-");
let other: string;

beforeAll(async () => {
	other = path.join(root(), "other");
	await writeTinyMistral(other, {
		seed: 5,
		layers: 2,
		hidden: 16,
		intermediate: 32,
		heads: 4,
		kvHeads: 2,
		vocab: 64,
		dtype: "BF16",
		tokenizer: false,
	});
});

/** A work folder with the model under test as ./x and the second model as ./y, so recipes (and outputs) are identical. */
async function workdir(name: string, model: string): Promise<string> {
	const dir = path.join(root(), name);
	await cp(path.join(FIXTURES, model), path.join(dir, "x"), { recursive: true });
	await cp(other, path.join(dir, "y"), { recursive: true });
	return dir;
}

async function files(dir: string): Promise<Record<string, string>> {
	const out: Record<string, string> = {};
	for (const f of (await readdir(dir)).sort()) out[f] = (await readFile(path.join(dir, f))).toString("base64");
	return out;
}

const RECIPES = {
	slerp: "merge_method: slerp\nbase_model: x\nmodels:\n  - model: y\nparameters: {t: 0.3}\n",
	ties: "merge_method: ties\nbase_model: x\nmodels:\n  - model: y\n    parameters: {weight: 0.7, density: 0.5}\ndtype: float32\n",
	linear: "merge_method: linear\nmodels:\n  - model: x\n    parameters: {weight: 0.4}\n  - model: y\n    parameters: {weight: 0.6}\n",
};

test.each([
	["tiny-mistral", "slerp", 1, undefined],
	["tiny-mistral", "ties", 2, 64],
	["tiny-mistral-legacy", "linear", 1, 64],
	["tiny-mistral-sharded", "ties", 1, undefined],
	["tiny-mistral-sharded", "slerp", 1, 128],
] as const)(
	"%s, %s, %d thread(s), chunks of %s elements: byte-identical to the safetensors twin",
	async (model, method, threads, chunkElements) => {
		const tag = `${model}-${method}-${threads}-${chunkElements ?? "whole"}`;
		const binDir = await workdir(`bin-${tag}`, model);
		const stDir = await workdir(`st-${tag}`, "tiny-mistral-st");
		const opts = { threads, ...(chunkElements !== undefined ? { chunkElements } : {}) };
		await mergeModels(parseRecipe(RECIPES[method]), { cwd: binDir, out: path.join(binDir, "out"), ...opts });
		await mergeModels(parseRecipe(RECIPES[method]), { cwd: stDir, out: path.join(stDir, "out"), ...opts });
		const got = await files(path.join(binDir, "out"));
		expect(Object.keys(got)).toContain("model.safetensors");
		expect(got).toEqual(await files(path.join(stDir, "out")));
	},
);
