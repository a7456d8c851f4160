/**
 * RankCutSearch driven over blocks the way TaskVectorKernel drives it (sample pass, bracket pass or the radix
 * passes, then the tie end located while the blocks are seen again): the cut must select exactly the k largest |δ|
 * of a stable sort (ties: lower index first; NaN largest), whichever route it takes.
 */
import { describe, expect, test } from "vitest";
import {
	RankCutSearch,
	RankSample,
	STAGE_BRACKET,
	STAGE_DONE,
	STAGE_SAMPLE,
	STAGE_TOP,
} from "../../../src/methods/task-vector/rank-cut-search.js";
import { countTopDigits, deltaKeys } from "../../../src/methods/task-vector/scan.js";
import { ABS_MASK, bitsOf, mergeCopies, TOP_DIGIT_BUCKETS } from "../../../src/tensor/radix-select.js";
import { rngKey, uniformAt } from "../../../src/tensor/rng.js";
import { tiedData } from "../../tensor/tied-data.js";

/** The k largest |δ| by a stable sort of the float32 deltas. */
function referenceTopK(delta: Float32Array, k: number): number[] {
	const bits = bitsOf(delta);
	const order = Array.from(delta, (_, i) => i).sort((p, q) => (bits[q]! & ABS_MASK) - (bits[p]! & ABS_MASK) || p - q);
	return order.slice(0, k).sort((p, q) => p - q);
}

function selected(delta: Float32Array, key: number, tieEnd: number): number[] {
	const bits = bitsOf(delta);
	const out: number[] = [];
	for (let i = 0; i < delta.length; i++) {
		const v = bits[i]! & ABS_MASK;
		if (v > key || (v === key && i < tieEnd)) out.push(i);
	}
	return out;
}

/** Finds the cut over blocks of `block` elements given as slices (element 0 at global index `from`); the stages run. */
function findCut(x: Float32Array, b: Float32Array, k: number, block: number): { key: number; tieEnd: number; stages: number[] } {
	const n = x.length;
	const sample = new RankSample(n);
	const cut = new RankCutSearch(k, n);
	const stages: number[] = [];
	const blocks = (f: (xs: Float32Array, bs: Float32Array, from: number) => void) => {
		for (let from = 0; from < n; from += block) f(x.slice(from, from + block), b.slice(from, from + block), from);
	};
	for (let pass = 0; cut.stage !== STAGE_DONE; pass++) {
		const stage = cut.stage;
		stages.push(stage);
		const wide = new Uint32Array(4 * TOP_DIGIT_BUCKETS);
		blocks((xs, bs, from) => {
			if (stage === STAGE_SAMPLE) sample.collect(xs, bs, 0, xs.length, from);
			else if (stage === STAGE_BRACKET) cut.scanBracket(xs, bs, 0, xs.length, from);
			else {
				const keys = deltaKeys(xs, bs, 0, xs.length, new Float32Array(xs.length));
				if (stage === STAGE_TOP) countTopDigits(keys, wide);
				else cut.scanKeys(keys, 0, xs.length, from);
			}
		});
		if (pass === 0) cut.planBracket(sample);
		else expect(cut.finishPass(mergeCopies(wide, TOP_DIGIT_BUCKETS))).toBe(true);
	}
	blocks((xs, bs, from) => expect(cut.locateTie(xs, bs, 0, xs.length, from)).toBe(true));
	expect(cut.tiePending).toBe(false);
	return { key: cut.key, tieEnd: cut.tieEnd, stages };
}

/** A base (1/4) and a model near `wanted` + 1/4; `delta` is their float32 difference, what the kernel ranks. */
function inputsFor(wanted: Float32Array): { x: Float32Array; b: Float32Array; delta: Float32Array } {
	const b = new Float32Array(wanted.length).fill(0.25);
	const x = new Float32Array(wanted.length).map((_, i) => wanted[i]! + 0.25);
	return { x, b, delta: new Float32Array(wanted.length).map((_, i) => x[i]! - b[i]!) };
}

const N = 20_000;
const uniform = (seed: number, i: number) => uniformAt(rngKey(seed, "rank-cut-search", 0), i);
/** Distinct-ish magnitudes on a 2^-20 grid (exact differences from base 1/4). */
const spread = new Float32Array(N).map((_, i) => Math.round((uniform(1, i) - 0.5) * 2 ** 16) / 2 ** 20);
/** Quantized deltas with ±0, ±Infinity and NaN. */
const tied = tiedData(N, 4, 40).map((v) => (Math.abs(v) < 1e-30 && v !== 0 ? 0 : v));
/** 60% exact zeros: the cut of half the entries falls inside one key (the one-key bracket). */
const zeros = new Float32Array(N).map((_, i) => (uniform(2, i) < 0.6 ? 0 : (uniform(3, i) - 0.5) / 64));
/** Four magnitudes, a quarter each: the bracket counts them as listed keys instead of gathering them. */
const levels = new Float32Array(N).map((_, i) => [1, -2, 3, -4][Math.floor(uniform(5, i) * 4)]! / 64);
/** 70% NaN (x is NaN): the k-th largest key of most cuts is a NaN key, which no bracket holds. */
const nans = new Float32Array(N).map((_, i) => (uniform(6, i) < 0.7 ? Number.NaN : (uniform(7, i) - 0.5) / 64));

describe("RankCutSearch selects the k largest |δ| over blocks", () => {
	const sets = { spread, tied, zeros, levels, nans };
	for (const [name, delta] of Object.entries(sets)) {
		test.each([1, 37, N / 100, N / 2, N - 1, N])(`${name}: k = %d`, (k) => {
			const { x, b, delta: d } = inputsFor(delta);
			for (const block of [1024, 3072, N]) {
				const cut = findCut(x, b, k, block);
				expect(selected(d, cut.key, cut.tieEnd)).toEqual(referenceTopK(d, k));
			}
		});
	}

	test("spread data and heavily tied keys take the two-pass route: sample, then one bracket pass", () => {
		for (const delta of [spread, zeros, levels]) {
			const { x, b } = inputsFor(delta);
			expect(findCut(x, b, N / 2, 1024).stages).toEqual([STAGE_SAMPLE, STAGE_BRACKET]);
		}
	});

	test("a bracket reaching NaN keys is not planned: the radix passes run", () => {
		const { x, b } = inputsFor(nans);
		expect(findCut(x, b, N / 2, 1024).stages).toEqual([STAGE_SAMPLE, STAGE_TOP, STAGE_TOP + 1, STAGE_TOP + 2, STAGE_TOP + 3]);
	});

	test("a sample that misleads the bracket falls back to the radix passes, with the same cut", () => {
		const delta = spread.slice();
		const sample = new RankSample(N);
		// Every sampled entry is huge: the bracket lands far above the true k-th magnitude.
		for (let t = 0; t < sample.keys.length; t++) delta[sample.position(t)] = 1024 + t;
		const { x, b, delta: d } = inputsFor(delta);
		const cut = findCut(x, b, N / 2, 1024);
		expect(cut.stages.slice(0, 3)).toEqual([STAGE_SAMPLE, STAGE_BRACKET, STAGE_TOP]);
		expect(selected(d, cut.key, cut.tieEnd)).toEqual(referenceTopK(d, N / 2));
	});

	test("sample positions lie one per stride window, inside the tensor", () => {
		const sample = new RankSample(100_003);
		const stride = Math.floor(100_003 / sample.keys.length);
		for (let t = 0; t < sample.keys.length; t++) {
			expect(Math.floor(sample.position(t) / stride)).toBe(t);
			expect(sample.position(t)).toBeLessThan(100_003);
		}
	});

	test("blocks that skip the pending tie's range are reported", () => {
		const { x, b } = inputsFor(zeros);
		const cut = new RankCutSearch(N / 2, N);
		const sample = new RankSample(N);
		sample.collect(x, b, 0, N, 0);
		cut.planBracket(sample);
		cut.scanBracket(x, b, 0, N, 0);
		cut.finishPass(undefined);
		expect(cut.tiePending).toBe(true);
		expect(cut.locateTie(x, b, N - 1024, N, 0)).toBe(false);
	});
});
