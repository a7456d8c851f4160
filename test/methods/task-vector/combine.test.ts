/**
 * The task-vector kernel (scan passes, fused or generic combine) against the plain composition it replaces: each
 * task vector stored in float32, sparsified by the standalone sparsifiers, then combined one position at a time
 * with the straightforward loop. Outputs must agree bit for bit (NaN positions: both NaN), in copy and in-place mode.
 */
import { describe, expect, test } from "vitest";
import {
	type Consensus,
	dellaMagprune,
	dropAndRescale,
	magnitudeMask,
	magnitudeOutliers,
	mergeTaskVectors,
	type Rescale,
	type SparsifyMethod,
	type TaskVectorOptions,
} from "../../../src/methods/task-vector/index.js";
import { rngKey, uniformAt } from "../../../src/tensor/rng.js";
import { float32Bits } from "../../helpers/arrays.js";

/** The reference: sparsify stored float32 deltas, then combine position by position (spec 1.2 steps 1–7). */
function reference(base: Float32Array, models: Float32Array[], o: TaskVectorOptions): Float32Array {
	const n = base.length;
	const deltas = models.map((x, m) => {
		const d = new Float32Array(n);
		for (let i = 0; i < n; i++) d[i] = x[i]! - base[i]!;
		const density = o.densities?.[m] ?? 1;
		const rescale = o.rescale ?? false;
		const key = o.rngKeys?.[m] ?? rngKey(0, "", m);
		switch (o.sparsify ?? "none") {
			case "magnitude":
				return magnitudeMask(d, density, rescale);
			case "random":
				return dropAndRescale(d, density, key, rescale, o.elementOffset ?? 0);
			case "magnitude_outliers":
				return magnitudeOutliers(d, density, o.gammas?.[m] ?? 0.01, rescale);
			case "della_magprune":
				return dellaMagprune(d, o.shape ?? [n], density, o.epsilons?.[m] ?? 0.15, key, rescale, o.elementOffset ?? 0);
			default:
				return d;
		}
	});
	const w = o.weights;
	const lambda = o.lambda ?? 1;
	let divisor = w.reduce((a, b) => a + b, 0);
	if (Math.abs(divisor) < 1e-8) divisor = 1;
	const out = new Float32Array(n);
	for (let i = 0; i < n; i++) {
		let mixed = -0;
		if (o.consensus === "sum") {
			let total = 0;
			for (let m = 0; m < models.length; m++) total += deltas[m]![i]! * w[m]!;
			let div = 0;
			for (let m = 0; m < models.length; m++) {
				const v = deltas[m]![i]! * w[m]!;
				if (total >= 0 ? v > 0 : v < 0) {
					mixed += v;
					div += w[m]!;
				}
			}
			if (o.normalize) mixed /= div === 0 ? 1 : div;
		} else {
			for (let m = 0; m < models.length; m++) mixed += deltas[m]![i]! * w[m]!;
			if (o.normalize) mixed /= divisor;
		}
		mixed *= lambda;
		out[i] = mixed === 0 ? base[i]! : base[i]! + mixed;
	}
	return out;
}

/** Bit patterns, with every NaN mapped to one value (NaN payloads are not part of the contract). */
const bitsOf = (x: Float32Array) => float32Bits(x, -1);

/** bf16-like quantized weights (many exact magnitude ties in the deltas), plus ±0, ±Inf and NaN when `nasty`. */
function weights(n: number, seed: number, nasty: boolean, around?: Float32Array): Float32Array {
	const key = rngKey(seed, "task-vector-combine", 0);
	return new Float32Array(n).map((_, i) => {
		const u = uniformAt(key, i);
		if (nasty && u < 0.01) return Number.NaN;
		if (nasty && u < 0.02) return u < 0.015 ? Infinity : -Infinity;
		if (nasty && u < 0.04) return -0;
		return (around?.[i] ?? 0) + Math.round((uniformAt(key, n + i) - 0.5) * 64) / 1024;
	});
}

const SPARSIFY: SparsifyMethod[] = ["none", "magnitude", "random", "magnitude_outliers", "della_magprune"];
const RESCALE: Rescale[] = [false, true, "inverse_density"];
const CONSENSUS: Consensus[] = ["sum", "none"];

describe("mergeTaskVectors equals the plain composition", () => {
	const n = 24 * 40;
	const cases = SPARSIFY.flatMap((sparsify) =>
		RESCALE.flatMap((rescale) => CONSENSUS.map((consensus) => [sparsify, rescale, consensus] as const)),
	);
	test.each(cases)("%s, rescale %s, consensus %s", (sparsify, rescale, consensus) => {
		for (const nasty of [false, true]) {
			const base = weights(n, 1, nasty);
			const all = [weights(n, 2, nasty, base), weights(n, 3, false, base), weights(n, 4, nasty, base)];
			for (const count of [1, 2, 3]) {
				const models = all.slice(0, count);
				for (const normalize of [false, true]) {
					const opts: TaskVectorOptions = {
						weights: [0.7, -0.4, 1.3].slice(0, count),
						sparsify,
						densities: [0.5, 0.3, 0.8].slice(0, count),
						gammas: [0.05, 0.1, 0.02].slice(0, count),
						epsilons: [0.1, 0.2, 0.15].slice(0, count),
						rescale,
						consensus,
						normalize,
						lambda: 0.9,
						rngKeys: models.map((_, m) => rngKey(5, "w", m)),
						shape: [24, 40],
						elementOffset: 3,
					};
					const expected = bitsOf(reference(base, models, opts));
					const copies = models.map((m) => m.slice());
					const baseCopy = base.slice();
					expect(bitsOf(mergeTaskVectors(base, models, opts))).toEqual(expected);
					expect(bitsOf(base)).toEqual(bitsOf(baseCopy));
					models.forEach((m, i) => {
						expect(bitsOf(m)).toEqual(bitsOf(copies[i]!));
					});
					const inPlace = mergeTaskVectors(baseCopy, copies, { ...opts, inPlace: true });
					expect(inPlace).toBe(baseCopy);
					expect(bitsOf(inPlace)).toEqual(expected);
				}
			}
		}
	});
	test("large tensors (the sampled-bracket route, fused loops, power-of-two weights and densities) equal the composition", () => {
		const n = 1 << 17;
		const base = weights(n, 11, false);
		const all = [weights(n, 12, false, base), weights(n, 13, true, base)];
		const shapes: [SparsifyMethod, Rescale, Consensus, boolean][] = [
			["magnitude", false, "sum", true],
			["magnitude", true, "sum", true],
			["magnitude_outliers", false, "none", false],
			["magnitude_outliers", "inverse_density", "sum", true],
			["random", true, "sum", false],
			["random", "inverse_density", "none", false],
			["none", false, "none", true],
		];
		for (const [sparsify, rescale, consensus, normalize] of shapes) {
			for (const w of [[1], [0.5, 0.25], [0.6, 0.3]]) {
				const models = all.slice(0, w.length);
				const opts: TaskVectorOptions = {
					weights: w,
					sparsify,
					densities: [0.5, 0.25],
					gammas: [0.01, 0.02],
					rescale,
					consensus,
					normalize,
					lambda: w.length === 2 ? 1 : 0.75,
					rngKeys: models.map((_, m) => rngKey(6, "large", m)),
				};
				const expected = bitsOf(reference(base, models, opts));
				expect(bitsOf(mergeTaskVectors(base, models, opts))).toEqual(expected);
				expect(
					bitsOf(
						mergeTaskVectors(
							base.slice(),
							models.map((m) => m.slice()),
							{ ...opts, inPlace: true },
						),
					),
				).toEqual(expected);
			}
		}
	});
	test("no models: the base, copied (or itself in place)", () => {
		const base = weights(50, 1, true);
		expect(bitsOf(mergeTaskVectors(base, [], { weights: [] }))).toEqual(bitsOf(base));
		expect(mergeTaskVectors(base, [], { weights: [], inPlace: true })).toBe(base);
	});
	test("DARE streams past counter 2^32 (chunked tensors) match the reference draws", () => {
		const base = weights(300, 1, false);
		const models = [weights(300, 2, false, base)];
		for (const rescale of [false, true, "inverse_density"] as const) {
			const opts: TaskVectorOptions = {
				weights: [1],
				sparsify: "random",
				densities: [0.4],
				rescale,
				rngKeys: [rngKey(1, "big", 0)],
				elementOffset: 2 ** 32 - 100,
			};
			expect(bitsOf(mergeTaskVectors(base, models, opts))).toEqual(bitsOf(reference(base, models, opts)));
		}
	});
	test("a DARE entry survives exactly when uniformAt(key, offset + i) < density", () => {
		const n = 5000;
		const key = rngKey(9, "mask", 0);
		const out = mergeTaskVectors(new Float32Array(n), [new Float32Array(n).fill(1)], {
			weights: [1],
			sparsify: "random",
			densities: [0.37],
			rngKeys: [key],
			elementOffset: 2 ** 31 - 2500,
		});
		for (let i = 0; i < n; i++) expect(out[i] === 1).toBe(uniformAt(key, 2 ** 31 - 2500 + i) < 0.37);
	});
});
