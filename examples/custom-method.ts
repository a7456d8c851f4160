/**
 * Adding a merge method without touching the library: defineMethod() describes it, createRegistry() puts it
 * next to the built-ins, and recipes can then name it like any other method.
 *
 *   npx tsx examples/custom-method.ts
 *
 * In your own project, import from "lm-merge" and "lm-merge/testing" instead of "../src/index.js" and
 * "../src/testing.js".
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { BUILTIN_METHODS, createRegistry, defineMethod, mergeModels, openModel, parseRecipe } from "../src/index.js";
import { writeTinyMistral } from "../src/testing.js";

/**
 * Element-wise median of the models, pulled towards their mean by `blend` (0 = pure median).
 * A median ignores one outlier model per element, which a plain average cannot.
 */
const medianMethod = defineMethod({
	name: "median",
	prettyName: "Median",
	description: "Element-wise median of the models, optionally blended with their mean.",
	base: "none",
	minModels: 3,
	params: {
		blend: { type: "number", default: 0, min: 0, max: 1, description: "Weight of the mean (0 = median only)." },
	},
	modelParams: {},
	// out[i] depends only on the inputs at i, so the executor may split tensors into chunks.
	elementwise: () => true,
	// The kernel receives plain Float32Arrays and plain numbers: gradients and filters are already resolved.
	merge({ models, params }) {
		const out = new Float32Array(models[0]!.length);
		const column = new Float64Array(models.length);
		for (let i = 0; i < out.length; i++) {
			let sum = 0;
			models.forEach((m, k) => {
				column[k] = m[i]!;
				sum += m[i]!;
			});
			column.sort();
			const mid = column.length >> 1;
			const median = column.length % 2 === 1 ? column[mid]! : (column[mid - 1]! + column[mid]!) / 2;
			out[i] = (1 - params.blend) * median + params.blend * (sum / models.length);
		}
		return out;
	},
});

const work = await mkdtemp(path.join(tmpdir(), "lm-merge-custom-"));
try {
	// Three independent tiny models (same shapes, different seeds).
	const dirs = ["a", "b", "c"].map((n) => path.join(work, n));
	await Promise.all(dirs.map((dir, seed) => writeTinyMistral(dir, { seed, layers: 2, hidden: 16 })));

	const registry = createRegistry([...BUILTIN_METHODS, medianMethod]);
	const recipe = parseRecipe(`
merge_method: median
models:
${dirs.map((d) => `  - model: ${d}`).join("\n")}
dtype: float32
`);
	const out = path.join(work, "merged");
	const result = await mergeModels(recipe, { out, registry });
	console.log(`merged ${result.tensors} tensors with "${medianMethod.name}" → ${out}`);

	// Check one element by hand: the merged value is the middle one of the three.
	const name = "model.norm.weight";
	const sources = await Promise.all([...dirs, out].map((d) => openModel(d)));
	const [x, y, z, merged] = await Promise.all(sources.map((s) => s.read(name)));
	const inputs = [x!.data[0]!, y!.data[0]!, z!.data[0]!].sort((p, q) => p - q);
	console.log(`${name}[0]: inputs ${inputs.map((v) => v.toFixed(5)).join(", ")} → merged ${merged!.data[0]!.toFixed(5)}`);
	await Promise.all(sources.map((s) => s.close()));
} finally {
	await rm(work, { recursive: true, force: true });
}
