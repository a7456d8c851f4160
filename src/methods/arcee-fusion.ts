import { MethodError } from "../errors.js";
import { type RngKey, rngKey, uniformAt } from "../tensor/rng.js";
import { assertInputs, assertModelCount, rowLength, selectInPlace } from "../tensor/vector-ops.js";
import { defineMethod } from "./define.js";

/**
 * Tensors above this many elements estimate the threshold's quartiles from a sample of this size, as mergekit
 * does: ranking a million values is cheap, ranking a 500M-entry embedding is not, and the quartiles barely move.
 */
export const ARCEE_FUSION_SAMPLE_SIZE = 1_000_000;
/** Added to both probability vectors before the KL divergence, so zero probabilities give no log(0) (mergekit's value). */
const ARCEE_FUSION_PROB_EPS = 1e-8;
/** Half-rounds of the keyed permutation used for sampling (each half mixed twice, like a 4-round Feistel network). */
const FEISTEL_ROUNDS = 4;
/** Random stream purpose for the quartile sample (model index 0 is the non-base model). */
const SAMPLE_PURPOSE = 0;

/** Options of {@link arceeFusion}: the tensor's shape and the random stream its threshold sample draws from. */
interface ArceeFusionOptions {
	/** The tensor's shape: the softmax runs along its last axis (default: one row). */
	shape?: readonly number[];
	/** The random stream for the sample; default rngKey(seed ?? 0, tensorName ?? "<input>", 0, 0). */
	key?: RngKey;
	seed?: number;
	tensorName?: string;
}

/**
 * A keyed pseudorandom permutation of [0, n), as a function of the position j: a Feistel-style network on the
 * smallest bit width covering n (the two halves alternately XORed with a hash of the other), with cycle walking
 * to stay below n (fewer than 2 steps on average). Taking j = 0, 1, … m−1 samples m distinct indices without
 * replacement and without an n-sized array.
 */
export function keyedPermutation(n: number, key: RngKey): (j: number) => number {
	const bits = Math.max(2, Math.ceil(Math.log2(Math.max(n, 2))));
	const loBits = Math.ceil(bits / 2);
	const loSize = 2 ** loBits;
	const loMask = loSize - 1;
	const hiMask = 2 ** (bits - loBits) - 1;
	const mix = (v: number, round: number, mask: number): number => (uniformAt(key, v * FEISTEL_ROUNDS + round) * 0x100000000) & mask;
	return (j: number): number => {
		let x = j;
		do {
			let hi = Math.floor(x / loSize);
			let lo = x - hi * loSize;
			for (let round = 0; round < FEISTEL_ROUNDS; round += 2) {
				hi = (hi ^ mix(lo, round, hiMask)) & hiMask;
				lo = (lo ^ mix(hi, round + 1, loMask)) & loMask;
			}
			x = hi * loSize + lo;
		} while (x >= n);
		return x;
	};
}

/**
 * The values at floor(q·(m−1)) of the ascending order of `values` for each q in `qs` (ascending), the order
 * mergekit's sort gives: NaN after everything. Reorders `values`; O(m) expected instead of a sort.
 */
export function sortedAt(values: Float64Array, qs: readonly number[]): number[] {
	const m = values.length;
	let valid = 0;
	for (let i = 0; i < m; i++) if (!Number.isNaN(values[i]!)) values[valid++] = values[i]!;
	values.fill(Number.NaN, valid);
	let lo = 0;
	return qs.map((q) => {
		const k = Math.floor(q * (m - 1));
		if (k >= valid) return Number.NaN;
		const v = selectInPlace(values, k, lo, valid - 1);
		lo = k;
		return v;
	});
}

/** KL(softmax(c)+ε ‖ softmax(a)+ε) for each row of length `rowLen`, in float64. */
function rowDivergences(a: Float32Array, c: Float32Array, rowLen: number): Float64Array {
	const rows = a.length / rowLen;
	const kl = new Float64Array(rows);
	const ea = new Float64Array(rowLen);
	const ec = new Float64Array(rowLen);
	for (let r = 0; r < rows; r++) {
		const start = r * rowLen;
		let maxA = Number.NEGATIVE_INFINITY;
		let maxC = Number.NEGATIVE_INFINITY;
		for (let j = 0; j < rowLen; j++) {
			maxA = Math.max(maxA, a[start + j]!);
			maxC = Math.max(maxC, c[start + j]!);
		}
		let sumA = 0;
		let sumC = 0;
		for (let j = 0; j < rowLen; j++) {
			ea[j] = Math.exp(a[start + j]! - maxA);
			ec[j] = Math.exp(c[start + j]! - maxC);
			sumA += ea[j]!;
			sumC += ec[j]!;
		}
		let d = 0;
		for (let j = 0; j < rowLen; j++) {
			const p = ec[j]! / sumC + ARCEE_FUSION_PROB_EPS;
			const q = ea[j]! / sumA + ARCEE_FUSION_PROB_EPS;
			d += p * Math.log(p / q);
		}
		kl[r] = d;
	}
	return kl;
}

/**
 * Arcee Fusion: importance Iₖ = |cₖ − aₖ| · KL of the row's softmaxes; entries with I ≥ median + 1.5·IQR take
 * the model's value `c`, all others keep the base `a`. Quantiles are sorted[floor(q·(m−1))] over all entries, or
 * over a seeded sample of ARCEE_FUSION_SAMPLE_SIZE distinct entries for larger tensors.
 */
export function arceeFusion(base: Float32Array, model: Float32Array, opts: ArceeFusionOptions = {}): Float32Array {
	const name = opts.tensorName ?? "<input>";
	const length = assertInputs("arcee_fusion", name, base, [model], opts.shape);
	const out = new Float32Array(length);
	if (length === 0) return out;
	const rowLen = rowLength(opts.shape ?? [length], length, false);
	const kl = rowDivergences(base, model, rowLen);
	const importance = (k: number): number => Math.abs(model[k]! - base[k]!) * kl[Math.floor(k / rowLen)]!;
	const m = Math.min(length, ARCEE_FUSION_SAMPLE_SIZE);
	const sample = new Float64Array(m);
	if (length <= ARCEE_FUSION_SAMPLE_SIZE) {
		for (let k = 0; k < length; k++) sample[k] = importance(k);
	} else {
		const permute = keyedPermutation(length, opts.key ?? rngKey(opts.seed ?? 0, name, 0, SAMPLE_PURPOSE));
		for (let j = 0; j < m; j++) sample[j] = importance(permute(j));
	}
	const [q25, median, q75] = sortedAt(sample, [0.25, 0.5, 0.75]) as [number, number, number];
	const threshold = median + 1.5 * (q75 - q25);
	for (let k = 0; k < length; k++) out[k] = importance(k) >= threshold ? model[k]! : base[k]!;
	return out;
}

/** Arcee Fusion: keep the base except where the model's change is important by a KL × |Δ| score. */
export const arceeFusionMethod = defineMethod({
	name: "arcee_fusion",
	prettyName: "Arcee Fusion",
	referenceUrl: "https://www.arcee.ai/blog/meet-mergekit-v0-1-arcee-fusion-expanded-model-support-multi-gpu-acceleration",
	description:
		"Scores each entry by |model − base| times the KL divergence of the rows' softmaxes and takes the model's " +
		"value where the score reaches median + 1.5·IQR; elsewhere the base is kept.",
	base: "required",
	minModels: 1,
	maxModels: 1,
	params: {},
	modelParams: {},
	random: true,
	merge({ tensorName, shape, base, models }, ctx) {
		assertModelCount("arcee_fusion", tensorName, models.length, 1, 1);
		if (base === undefined) {
			throw new MethodError("InvalidInput", "arcee_fusion", `tensor "${tensorName}": a base model is required`);
		}
		return arceeFusion(base, models[0]!, { shape, key: ctx.rngKey(0, SAMPLE_PURPOSE), tensorName });
	},
});
