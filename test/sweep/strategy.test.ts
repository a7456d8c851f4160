import { describe, expect, test } from "vitest";
import { SweepError } from "../../src/errors.js";
import type { RangeParam } from "../../src/sweep/spec.js";
import { fromUnit, gridPoints, randomPoints, sweepBatches } from "../../src/sweep/strategy.js";

const range = (over: Partial<RangeParam> = {}): RangeParam => ({
	path: "parameters.t",
	segments: ["parameters", "t"],
	min: 0,
	max: 1,
	log: false,
	int: false,
	...over,
});

describe("gridPoints", () => {
	test("every combination, the first axis varying slowest", () => {
		expect(
			gridPoints([
				{ path: "a", values: [1, 2] },
				{ path: "b", values: ["x", "y", "z"] },
			]),
		).toEqual([
			{ a: 1, b: "x" },
			{ a: 1, b: "y" },
			{ a: 1, b: "z" },
			{ a: 2, b: "x" },
			{ a: 2, b: "y" },
			{ a: 2, b: "z" },
		]);
	});
});

describe("fromUnit", () => {
	test.each([
		[range(), 0.25, 0.25],
		[range({ min: 0.2, max: 0.6 }), 0.5, 0.4],
		[range(), -3, 0],
		[range(), 7, 1],
		[range({ min: 0.001, max: 1, log: true }), 0.5, 0.0316228],
		[range({ step: 0.1 }), 0.34, 0.3],
		[range({ min: 1, max: 9, int: true }), 0.3, 3],
	])("%o at %d → %d", (p, u, v) => {
		expect(fromUnit(p, u)).toBeCloseTo(v, 6);
	});
});

describe("randomPoints", () => {
	test("reproducible from the seed, inside the ranges, choices drawn from the list", () => {
		const space = [
			range({ min: 0.2, max: 0.4 }),
			{ path: "parameters.normalize", segments: ["parameters", "normalize"], choices: [true, false] },
		];
		const a = randomPoints(space, 50, 3);
		expect(randomPoints(space, 50, 3)).toEqual(a);
		expect(randomPoints(space, 50, 4)).not.toEqual(a);
		for (const p of a) {
			expect(p["parameters.t"]).toBeGreaterThanOrEqual(0.2);
			expect(p["parameters.t"]).toBeLessThanOrEqual(0.4);
			expect([true, false]).toContain(p["parameters.normalize"]);
		}
		expect(new Set(a.map((p) => p["parameters.normalize"])).size).toBe(2);
	});
});

describe("sweepBatches", () => {
	test("a grid is one batch", () => {
		const it = sweepBatches({ kind: "grid", axes: [{ path: "t", segments: ["t"], values: [1, 2, 3] }] });
		expect(it.next([]).value).toEqual([{ t: 1 }, { t: 2 }, { t: 3 }]);
		expect(it.next([1, 2, 3]).done).toBe(true);
	});

	test("a search yields whole generations within the budget and climbs towards the best values", () => {
		const it = sweepBatches({ kind: "search", method: "cmaes", budget: 60, seed: 1, sigma: 0.3, space: [range()] });
		let step = it.next([]);
		const gens: number[][] = [];
		while (step.done !== true) {
			const ts = step.value.map((p) => p["parameters.t"] as number);
			gens.push(ts);
			step = it.next(ts.map((t) => -Math.abs(t - 0.8)));
		}
		expect(gens.every((g) => g.length === 4)).toBe(true);
		expect(gens.length).toBe(15);
		const last = gens.at(-1) as number[];
		expect(Math.abs(last.reduce((a, b) => a + b, 0) / last.length - 0.8)).toBeLessThan(0.05);
	});

	test("a budget below one generation is a Spec error; a generation that fails entirely stops the search", () => {
		const small = sweepBatches({ kind: "search", method: "cmaes", budget: 3, seed: 0, sigma: 0.3, space: [range()] });
		expect(() => small.next([])).toThrow(SweepError);
		const it = sweepBatches({ kind: "search", method: "cmaes", budget: 8, seed: 0, sigma: 0.3, space: [range()] });
		it.next([]);
		expect(() => it.next([Number.NaN, Number.NaN, Number.NaN, Number.NaN])).toThrow(/every trial/);
	});
});
