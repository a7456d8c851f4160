import { describe, expect, test } from "vitest";
import { ARCEE_FUSION_SAMPLE_SIZE, arceeFusion, arceeFusionMethod, keyedPermutation, sortedAt } from "../../src/methods/arcee-fusion.js";
import { rngKey, uniformAt } from "../../src/tensor/rng.js";
import { f32 } from "../helpers/arrays.js";
import { mergeContext as contextFor } from "../helpers/context.js";

describe("arcee_fusion", () => {
	test("mask on a hand example: KL per row scales |Δ|", () => {
		// Row 0: c = (1, 0) vs a = (0, 0): KL = 0.110945. Row 1: c = (3, 0): KL = 0.502283.
		// I = (0.110945, 0, 1.506849, 0); sorted → q25 = 0, median = 0, q75 = 0.110945 → threshold 0.166417.
		// Only entry 2 reaches it, so entry 0 keeps the base although its |Δ| = 1.
		const out = arceeFusion(new Float32Array(4), f32([1, 0, 3, 0]), { shape: [2, 2] });
		expect([...out]).toEqual([0, 0, 3, 0]);
	});

	test("one row: the threshold is median + 1.5·IQR of |Δ|·KL", () => {
		// |Δ| = 0..6, 100: q25 = 1, median = 3, q75 = 5 → threshold 9·KL: only the 100 passes.
		const base = f32([0, 0, 0, 0, 0, 0, 0, 0]);
		const model = f32([0, 1, 2, 3, 4, 5, 6, 100]);
		expect([...arceeFusion(base, model, { shape: [8] })]).toEqual([0, 0, 0, 0, 0, 0, 0, 100]);
	});

	test("output entries come from the model or the base, bit-exact", () => {
		const base = f32([0.25, -1, 3, 0.5, 2, -2]);
		const model = f32([0.3, -0.2, 3, 4, 2.5, -2.1]);
		const out = arceeFusion(base, model, { shape: [2, 3] });
		out.forEach((v, i) => {
			expect(v === base[i] || v === model[i]).toBe(true);
		});
	});

	test("zero inputs and identical inputs: no NaN", () => {
		expect(arceeFusion(new Float32Array(6), new Float32Array(6), { shape: [2, 3] })).toEqual(new Float32Array(6));
		const x = f32([1, -2, 3, 0.5]);
		expect(arceeFusion(x, x.slice(), { shape: [2, 2] })).toEqual(x);
	});

	test("keyedPermutation is a bijection of [0, n) that depends on the key", () => {
		for (const n of [1, 2, 7, 1000, 4097]) {
			const permute = keyedPermutation(n, rngKey(3, `p${n}`, 0));
			const seen = new Uint8Array(n);
			for (let j = 0; j < n; j++) {
				const x = permute(j);
				expect(x >= 0 && x < n && Number.isInteger(x)).toBe(true);
				seen[x]!++;
			}
			expect(seen.every((c) => c === 1)).toBe(true);
		}
		const pa = keyedPermutation(1000, rngKey(1, "a", 0));
		const pb = keyedPermutation(1000, rngKey(2, "a", 0));
		const a = Array.from({ length: 50 }, (_, j) => pa(j));
		expect(a).not.toEqual(Array.from({ length: 50 }, (_, j) => pb(j)));
		expect(a).toEqual(Array.from({ length: 50 }, (_, j) => pa(j)));
	});

	test.each([1, 2, 5, 100, 1001])("sortedAt matches a full sort (m = %i, duplicates and NaN)", (m) => {
		const key = rngKey(5, "q", m);
		const values = Float64Array.from({ length: m }, (_, i) => {
			const u = uniformAt(key, i);
			return u < 0.05 ? Number.NaN : Math.floor(u * 20) / 4;
		});
		const sorted = Float64Array.from(values).sort();
		const qs = [0, 0.25, 0.5, 0.75, 1];
		expect(sortedAt(Float64Array.from(values), qs)).toEqual(qs.map((q) => sorted[Math.floor(q * (m - 1))]));
	});

	test("above 1e6 elements the seeded sample is deterministic for seed + tensor", () => {
		const rows = 1100;
		const cols = 1000;
		expect(rows * cols).toBeGreaterThan(ARCEE_FUSION_SAMPLE_SIZE);
		const key = rngKey(7, "data", 0);
		const base = new Float32Array(rows * cols);
		const model = new Float32Array(rows * cols);
		for (let i = 0; i < base.length; i++) {
			// Small changes everywhere, and a large one at every 997th entry (the outliers fusion should pick).
			base[i] = uniformAt(key, i) - 0.5;
			model[i] = base[i]! + (i % 997 === 0 ? 1 : (uniformAt(key, i + base.length) - 0.5) * 0.01);
		}
		const input = { tensorName: "big", shape: [rows, cols], base, models: [model], params: {}, modelParams: [{}] };
		const first = arceeFusionMethod.merge(input, contextFor(42, "big"));
		const second = arceeFusionMethod.merge(input, contextFor(42, "big"));
		let differ = 0;
		for (let i = 0; i < first.length; i++) if (!Object.is(first[i], second[i])) differ++;
		expect(differ).toBe(0);
		// The outliers pass the threshold; the bulk of small changes does not.
		let fromModel = 0;
		for (let i = 0; i < first.length; i++) if (first[i] !== base[i]) fromModel++;
		let missed = 0;
		for (let i = 0; i < first.length; i += 997) if (first[i] !== model[i]) missed++;
		expect(missed).toBe(0);
		expect(fromModel).toBeLessThan(first.length / 10);
		expect(arceeFusionMethod.random).toBe(true);
	});
});
