/**
 * Merging from code: build two tiny models, SLERP them with mergeModels(), watch the progress events.
 *
 *   npx tsx examples/merge-programmatic.ts
 *
 * In your own project, import from "lm-merge" and "lm-merge/testing" instead of "../src/index.js" and
 * "../src/testing.js".
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type MergeEvent, mergeModels, openModel, parseRecipe } from "../src/index.js";
import { writeTinyPair } from "../src/testing.js";

const work = await mkdtemp(path.join(tmpdir(), "lm-merge-example-"));
try {
	// 1. Two small Mistral-shaped checkpoints: `base` (random) and `tuned` (base plus a little noise).
	const { base, tuned } = await writeTinyPair(work, { layers: 4, hidden: 32, intermediate: 64 });

	// 2. A recipe, as it would appear in a YAML file. Paths may be folders, aliases or Hugging Face ids.
	//    Here attention layers move from base to tuned across the depth; everything else sits halfway.
	const recipe = parseRecipe(`
merge_method: slerp
base_model: ${base}
models:
  - model: ${base}
  - model: ${tuned}
parameters:
  t:
    - filter: self_attn
      value: [0, 1]
    - value: 0.5
dtype: bfloat16
`);

	// 3. Run it. Every check that only needs headers happens before the first tensor is read; the output
	//    folder appears only when the merge is complete.
	const out = path.join(work, "merged");
	const onEvent = (e: MergeEvent) => {
		if (e.event === "planned") console.log(`planned: ${e.tensors} tensors, ${e.bytes} bytes, ${e.shards} shard(s)`);
		if (e.event === "tensor" && (e.index + 1) % 10 === 0) console.log(`  ${e.index + 1}/${e.total} ${e.name}`);
		if (e.event === "warning") console.log(`warning: ${e.message}`);
	};
	const result = await mergeModels(recipe, { out, onEvent });
	console.log(`done in ${result.seconds.toFixed(2)} s → ${result.out}`);
	console.log(`files: ${(await readdir(out)).join(", ")}`);

	// 4. Read a merged tensor back. Layer 0 attention has t = 0, so it equals the base model exactly.
	const [merged, original] = await Promise.all([openModel(out), openModel(base)]);
	const name = "model.layers.0.self_attn.q_proj.weight";
	const [a, b] = await Promise.all([merged.read(name), original.read(name)]);
	console.log(`${name}: identical to base = ${a.data.every((v, i) => v === b.data[i])}`);
	await Promise.all([merged.close(), original.close()]);
} finally {
	await rm(work, { recursive: true, force: true });
}
