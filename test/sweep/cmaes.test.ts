import { describe, expect, test } from "vitest";
import { CmaEs, cmaesParameters } from "../../src/sweep/cmaes.js";

describe("cmaesParameters (Hansen's tutorial, Table 1)", () => {
	test("n = 2, computed by hand from the tutorial's formulas", () => {
		const p = cmaesParameters(2);
		expect(p.lambda).toBe(6);
		expect(p.mu).toBe(3);
		p.weights.forEach((w, i) => {
			expect(w).toBeCloseTo([0.637043, 0.28457, 0.078387][i] as number, 5);
		});
		expect(p.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
		expect(p.muEff).toBeCloseTo(2.028611, 5);
		expect(p.cSigma).toBeCloseTo(0.446205, 5);
		expect(p.dSigma).toBeCloseTo(1.446205, 5);
		expect(p.cc).toBeCloseTo(0.624555, 5);
		expect(p.c1).toBeCloseTo(0.154815, 5);
		expect(p.cMu).toBeCloseTo(0.057859, 5);
		expect(p.chiN).toBeCloseTo(1.254273, 5);
	});

	test("λ grows with log n; an explicit population is kept", () => {
		expect(cmaesParameters(1).lambda).toBe(4);
		expect(cmaesParameters(10).lambda).toBe(10);
		expect(cmaesParameters(3, 12).mu).toBe(6);
	});
});

/** Runs `generations` of ask/tell maximising f; returns the optimiser. */
function optimise(f: (x: number[]) => number, dim: number, generations: number, seed = 0): CmaEs {
	const es = new CmaEs({ dim, sigma: 0.3, seed });
	for (let g = 0; g < generations; g++) {
		const xs = es.ask();
		es.tell(xs, xs.map(f));
	}
	return es;
}

describe("CmaEs", () => {
	test("finds the maximum of a shifted, ill-conditioned quadratic", () => {
		const target = [0.8, 0.2, 0.6];
		const f = (x: number[]) => -x.reduce((a, v, i) => a + 10 ** i * (v - (target[i] as number)) ** 2, 0);
		const es = optimise(f, 3, 80);
		es.mean.forEach((m, i) => {
			expect(Math.abs(m - (target[i] as number))).toBeLessThan(1e-3);
		});
		expect(es.sigma).toBeLessThan(0.01);
	});

	test("the same seed and fitness give the same candidates; another seed does not", () => {
		const f = (x: number[]) => -((x[0] as number) ** 2);
		const a = optimise(f, 1, 5, 7).ask();
		const b = optimise(f, 1, 5, 7).ask();
		const c = optimise(f, 1, 5, 8).ask();
		expect(a).toEqual(b);
		expect(a).not.toEqual(c);
	});

	test("a failed candidate (NaN fitness) ranks last instead of poisoning the update", () => {
		const es = new CmaEs({ dim: 2, sigma: 0.3, seed: 1 });
		const xs = es.ask();
		es.tell(
			xs,
			xs.map((x, i) => (i === 0 ? Number.NaN : -((x[0] as number) ** 2))),
		);
		expect(es.mean.every(Number.isFinite)).toBe(true);
		expect(Number.isFinite(es.sigma)).toBe(true);
	});

	test("tell() refuses a wrong number of candidates; the constructor refuses a bad dimension or sigma", () => {
		const es = new CmaEs({ dim: 2, sigma: 0.3, seed: 0 });
		expect(() => es.tell([[0, 0]], [1])).toThrow(RangeError);
		expect(() => new CmaEs({ dim: 0, sigma: 0.3, seed: 0 })).toThrow(RangeError);
		expect(() => new CmaEs({ dim: 2, sigma: 0, seed: 0 })).toThrow(RangeError);
	});
});
