/**
 * The roundings behind `compat: mergekit`: bf16 and f16 round to nearest, ties to even, as torch's conversions do.
 * Checked against the io layer's independent encoders (io/convert.ts) over every float32 exponent and the edges.
 */
import { describe, expect, test } from "vitest";
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from "../../../src/io/convert.js";
import { castInPlace, roundBf16, roundF16, TorchFloat } from "../../../src/methods/compat/torch-float.js";

const f32 = (bits: number) => new Float32Array(new Uint32Array([bits >>> 0]).buffer)[0]!;

/** float32 values across every exponent: each exponent with mantissas at, just below and just above rounding ties. */
function sweep(): number[] {
	const out: number[] = [];
	for (let e = 0; e < 255; e++) {
		for (const m of [0, 1, 0x7fff, 0x8000, 0x8001, 0x18000, 0x0fff, 0x1000, 0x1001, 0x3000, 0x7fffff, 0x7fe000, 0x400000]) {
			for (const sign of [0, 0x80000000]) out.push(f32(sign | (e << 23) | m));
		}
	}
	return out;
}

describe("roundings", () => {
	test("roundBf16 agrees with the bf16 encoder on every exponent, ties and subnormals", () => {
		for (const x of sweep()) expect(Object.is(roundBf16(x), bf16BitsToF32(f32ToBf16Bits(x))), `x = ${x}`).toBe(true);
	});

	test("roundF16 agrees with the f16 encoder on every exponent, ties, subnormals and overflow", () => {
		for (const x of sweep()) expect(Object.is(roundF16(x), f16BitsToF32(f32ToF16Bits(x))), `x = ${x}`).toBe(true);
	});

	test("hand-computed cases", () => {
		expect(roundBf16(0.3)).toBe(0.30078125); // torch.tensor(0.3, dtype=torch.bfloat16)
		expect(roundF16(Math.fround(0.3))).toBe(0.300048828125);
		expect(roundBf16(1 + 2 ** -8)).toBe(1); // a tie goes to the even mantissa
		expect(roundBf16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
		expect(roundF16(65519.99)).toBe(65504);
		expect(roundF16(65520)).toBe(Infinity);
		expect(roundF16(2 ** -25)).toBe(0); // half the smallest subnormal: ties to even (0)
		expect(roundF16(3 * 2 ** -25)).toBe(2 ** -23);
		expect(Number.isNaN(roundBf16(Number.NaN))).toBe(true);
		expect(Object.is(roundF16(-0), -0)).toBe(true);
	});

	test("castInPlace rounds an array to the dtype; float32 is untouched", () => {
		const x = Float32Array.of(0.3, 1 / 3, -2.5);
		castInPlace(x, "BF16");
		expect([...x]).toEqual([0.30078125, 0.333984375, -2.5]);
		const y = Float32Array.of(1 / 3);
		expect(castInPlace(y, "F32")[0]).toBe(Math.fround(1 / 3));
	});
});

describe("TorchFloat", () => {
	const bf = new TorchFloat("BF16");
	test("an op is the float32 result rounded to the dtype", () => {
		// 1 + 2^-9 is exact in float32 but below half a bf16 step: it rounds back to 1.
		expect(bf.add(1, 2 ** -9)).toBe(1);
		expect(bf.mul(0.30078125, 3)).toBe(0.90234375);
	});

	test("Python numbers: * and / use float32, + and comparisons round to the dtype", () => {
		expect(bf.scalar(0.3)).toBe(Math.fround(0.3));
		expect(bf.narrow(0.3)).toBe(0.30078125);
		// 3 × float32(0.3) = 0.90000004 rounds to bf16 0.8984375; 3 × bf16(0.3) = 0.90234375 is itself a bf16 value.
		expect(bf.mul(3, bf.scalar(0.3))).toBe(0.8984375);
		expect(bf.mul(3, bf.narrow(0.3))).toBe(0.90234375);
	});

	test("clamp narrows its bounds and keeps NaN", () => {
		expect(bf.clamp(0, 1e-6, undefined)).toBe(roundBf16(Math.fround(1e-6)));
		expect(Number.isNaN(bf.clamp(Number.NaN, -1, 1))).toBe(true);
	});
});
