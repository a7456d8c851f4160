import { describe, expect, test } from "vitest";
import { slerp, slerpMethod } from "../../src/methods/slerp.js";
import { rngKey, uniformAt } from "../../src/tensor/rng.js";
import { float32Bits } from "../helpers/arrays.js";
import { closeTo } from "../helpers/close.js";
import { mergeContext } from "../helpers/context.js";
import { kindOf } from "../helpers/errors.js";

const f32 = (...v: number[]) => new Float32Array(v);
describe("slerp", () => {
	const key = rngKey(2, "s", 0);
	const a = new Float32Array(257).map((_, i) => uniformAt(key, i) - 0.5);
	const b = new Float32Array(257).map((_, i) => uniformAt(key, 1000 + i) - 0.5);
	a[3] = Number.NaN;
	a[4] = -0;
	b[5] = Number.NaN;
	test("t = 0 returns a bit-exact copy of a, t = 1 of b (NaNs included)", () => {
		const out0 = slerp(a, b, 0);
		const out1 = slerp(a, b, 1);
		expect(float32Bits(out0)).toEqual(float32Bits(a));
		expect(float32Bits(out1)).toEqual(float32Bits(b));
		expect(out0).not.toBe(a);
	});
	test("a NaN inside does not crash; other positions stay finite (lerp fallback)", () => {
		const out = slerp(a, b, 0.4);
		expect(out[3]).toBeNaN();
		expect(out[5]).toBeNaN();
		expect(out[0]! === 0.6 * a[0]! + 0.4 * b[0]! || Math.abs(out[0]! - (0.6 * a[0]! + 0.4 * b[0]!)) < 1e-7).toBe(true);
		expect(out.filter((_, i) => i !== 3 && i !== 5).every(Number.isFinite)).toBe(true);
	});
	test.each([0.1, 0.25, 0.5, 0.9])("orthogonal unit vectors at t = %d follow the arc", (t) => {
		expect(Array.from(slerp(f32(1, 0), f32(0, 1), t))).toEqual(closeTo([Math.cos((t * Math.PI) / 2), Math.sin((t * Math.PI) / 2)]));
	});
	test("orthogonal unit vectors at t = 0.5 give (a + b)/√2", () => {
		expect(Array.from(slerp(f32(1, 0, 0), f32(0, 0, 1), 0.5))).toEqual(closeTo([Math.SQRT1_2, 0, Math.SQRT1_2]));
	});
	test("unnormalized orthogonal tensors blend with sin weights on the raw values", () => {
		expect(Array.from(slerp(f32(2, 0), f32(0, 3), 0.5))).toEqual(closeTo([2 * Math.SQRT1_2, 3 * Math.SQRT1_2]));
	});
	test.each([
		["colinear", f32(1, 2, 3), f32(2, 4, 6), 0.25, [1.25, 2.5, 3.75]],
		["antiparallel", f32(1, 2), f32(-2, -4), 0.5, [-0.5, -1]],
		["zero vector", f32(0, 0), f32(0, 0), 0.5, [0, 0]],
	] as const)("%s → lerp", (_name, x, y, t, expected) => {
		expect(Array.from(slerp(x, y, t))).toEqual(closeTo([...expected]));
	});
	test("errors: length mismatch, missing base", () => {
		expect(kindOf(() => slerp(f32(1), f32(1, 2), 0.5))).toBe("InvalidInput");
		const ctx = mergeContext(0, "w");
		const input = { tensorName: "w", shape: [2], base: undefined, models: [f32(1, 2)], params: { t: 0.5 }, modelParams: [{}] };
		expect(kindOf(() => slerpMethod.merge(input, ctx))).toBe("InvalidInput");
		expect(Array.from(slerpMethod.merge({ ...input, base: f32(1, 0), models: [f32(0, 1)] }, ctx))).toEqual(
			closeTo([Math.SQRT1_2, Math.SQRT1_2]),
		);
	});
});
