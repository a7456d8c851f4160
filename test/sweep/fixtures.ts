import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { writeTinyMistral } from "../../src/fixtures/tiny-model.js";
import { REPO_ROOT } from "../helpers/cli.js";

export const SAMPLE_DATA = path.join(REPO_ROOT, "examples", "data", "medqa-sample.jsonl");
export const SAMPLE_SHOTS = path.join(REPO_ROOT, "examples", "data", "medqa-sample-train.jsonl");

/** A 3-point SLERP grid over t on two tiny models: t = 0 is model a exactly, t = 1 model b. */
export const GRID_SWEEP = `recipe: slerp.yml
grid:
  parameters.t: [0, 0.5, 1]
eval:
  data: ${SAMPLE_DATA}
  shots-from: ${SAMPLE_SHOTS}
  shots: 1
  seeds: 2
objective: mean_acc_letters
merge:
  threads: 1
`;

/**
 * Writes two tiny Mistral models (b = a + noise, sharing a's tokenizer), a SLERP recipe between them
 * that names them by paths relative to itself, and `sweep.yml` (GRID_SWEEP unless given).
 */
export async function writeSweepFixture(root: string, sweep: string = GRID_SWEEP): Promise<{ a: string; b: string; sweep: string }> {
	await mkdir(root, { recursive: true });
	const a = await writeTinyMistral(path.join(root, "models", "a"), {
		seed: 1,
		layers: 2,
		hidden: 16,
		intermediate: 32,
		heads: 4,
		kvHeads: 2,
		vocab: 64,
		force: true,
	});
	const b = await writeTinyMistral(path.join(root, "models", "b"), { seed: 2, base: a.dir, delta: 0.05, force: true });
	await writeFile(
		path.join(root, "slerp.yml"),
		"merge_method: slerp\nbase_model: models/a\nmodels:\n  - model: models/a\n  - model: models/b\nparameters:\n  t: 0.5\ndtype: bfloat16\n",
	);
	await writeFile(path.join(root, "sweep.yml"), sweep);
	return { a: a.dir, b: b.dir, sweep: path.join(root, "sweep.yml") };
}
