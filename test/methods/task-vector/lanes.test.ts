/**
 * The fused-loop choice of the task-vector kernel (mixerOf): dividing by power-of-two divisors is multiplying by
 * their exact reciprocals, so those merges take the multiply loops (and their compiled power-of-two forms); any
 * other divisor keeps the division.
 */
import { describe, expect, test } from "vitest";
import { type Lane, LOOP_CUTS, LOOP_RANDOM, LOOP_TWO, mixerOf } from "../../../src/methods/task-vector/lanes.js";
import { KIND_CUTS, KIND_RANDOM } from "../../../src/methods/task-vector/plan.js";

const lane = (kind: number, w: number): Lane => ({ kind, weight: w, scale: 0, scaleValue: 1 }) as unknown as Lane;
const opts = (consensus: boolean, divisor = 1) => ({ consensus, normalize: true, lambda: 1, divisor });

describe("mixerOf", () => {
	test.each([0.5, 0.25, 1, 2, 8])("one model of weight %d: multiplies by the reciprocal of its weight", (w) => {
		const M = mixerOf([lane(KIND_CUTS, w)], opts(true));
		expect(M.divide).toBe(false);
		expect(M.loop).toBe(LOOP_CUTS);
		expect(M.divisors[0]).toBe(1 / w);
	});

	test.each([0.3, 0.6, 3, 1e-3])("one model of weight %d: divides", (w) => {
		const M = mixerOf([lane(KIND_CUTS, w)], opts(true));
		expect(M.divide).toBe(true);
		expect(M.divisors[0]).toBe(w);
	});

	test("DARE's inline draws run fused only when they multiply", () => {
		expect(mixerOf([lane(KIND_RANDOM, 0.5)], opts(true)).loop).toBe(LOOP_RANDOM);
		expect(mixerOf([lane(KIND_RANDOM, 0.3)], opts(true)).loop).not.toBe(LOOP_RANDOM);
	});

	test("two models: every sum of agreeing weights must be a power of two to multiply", () => {
		const pow2 = mixerOf([lane(KIND_CUTS, 0.5), lane(KIND_CUTS, 0.5)], opts(true));
		expect(pow2.loop).toBe(LOOP_TWO);
		expect(pow2.divide).toBe(false);
		expect([...pow2.divisors]).toEqual([1, 2, 2, 1]);
		expect(mixerOf([lane(KIND_CUTS, 0.5), lane(KIND_CUTS, 0.25)], opts(true)).divide).toBe(true);
		expect(mixerOf([lane(KIND_CUTS, 0.3), lane(KIND_CUTS, 0.3)], opts(false, 0.5)).divide).toBe(false);
	});
});
