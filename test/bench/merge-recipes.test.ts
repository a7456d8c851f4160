import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type BenchPair, writeBenchPair } from "../../bench/fixtures.js";
import { BENCH_METHODS, benchRecipe, isBenchMethod, RATIO_TARGETS } from "../../bench/merge-recipes.js";
import { mergeModels, openModel, parseRecipe } from "../../src/index.js";
import { bf16BitsToF32, f32ToBf16Bits } from "../../src/io/convert.js";
import { useTempDir } from "../helpers/fs.js";
import { TINY } from "./tiny-shape.js";

const root = useTempDir("bench-recipes-test-");
let pair: BenchPair;

beforeAll(async () => {
	pair = await writeBenchPair(join(root(), "models"), { shape: TINY });
});

/** Every tensor of a model folder, decoded. */
async function readAll(dir: string): Promise<Map<string, Float32Array>> {
	const m = await openModel(dir);
	try {
		const out = new Map<string, Float32Array>();
		for (const name of m.names()) out.set(name, (await m.read(name)).data);
		return out;
	} finally {
		await m.close();
	}
}

const bf16 = (x: number) => bf16BitsToF32(f32ToBf16Bits(x));

describe("benchRecipe", () => {
	it("has a ratio target for every method", () => {
		expect(BENCH_METHODS.map((m) => RATIO_TARGETS[m])).toEqual([1.15, 1.15, 1.3, 1.3]);
		expect(isBenchMethod("ties")).toBe(true);
		expect(isBenchMethod("karcher")).toBe(false);
	});

	it.each(BENCH_METHODS)("%s merges the bench pair into every tensor, finite", async (method) => {
		const recipe = parseRecipe(benchRecipe(method, pair.base, pair.tuned));
		expect(recipe.mergeMethod).toBe(method);
		const out = join(root(), `out-${method}`);
		await mergeModels(recipe, { out });
		const [base, tuned, merged] = await Promise.all([readAll(pair.base), readAll(pair.tuned), readAll(out)]);
		expect([...merged.keys()]).toEqual([...base.keys()]);
		for (const [name, values] of merged) {
			expect(values.every(Number.isFinite), name).toBe(true);
			const b = base.get(name)!;
			const t = tuned.get(name)!;
			if (method === "linear") {
				values.forEach((v, i) => {
					expect(v).toBe(bf16((b[i]! + t[i]!) / 2));
				});
			} else if (method === "ties") {
				// One task vector, weight 0.5, normalize: each element is the base or the tuned value.
				let kept = 0;
				values.forEach((v, i) => {
					if (v === b[i]! && v !== t[i]!) return;
					expect(v).toBe(t[i]!);
					kept++;
				});
				expect(kept / values.length).toBeGreaterThan(0.4);
			}
		}
	});
});
