import { describe, expect, test } from "vitest";
import {
	allFiniteF32,
	bf16BitsToF32,
	decodeToF32,
	encodeChecked,
	encodeFromF32,
	f16BitsToF32,
	f32ToBf16Bits,
	f32ToF16Bits,
	firstNonFinite,
} from "../../src/io/convert.js";

/** A float32 built from its bit pattern. */
function fromBits(u: number): number {
	return new Float32Array(new Uint32Array([u]).buffer)[0]!;
}

const isNaN16 = (h: number, expBits: number) => (h & expBits) === expBits && (h & ~(expBits | 0x8000) & 0xffff) !== 0;

describe("f32 → bf16 scalar", () => {
	test.each([
		["+0", 0, 0x0000],
		["-0", -0, 0x8000],
		["1", 1, 0x3f80],
		["-2", -2, 0xc000],
		["+Inf", Infinity, 0x7f80],
		["-Inf", -Infinity, 0xff80],
		["tie 1+2^-8 → even (down)", 1 + 2 ** -8, 0x3f80],
		["tie 1+3·2^-8 → even (up)", 1 + 3 * 2 ** -8, 0x3f82],
		["just above tie", fromBits(0x3f808001), 0x3f81],
		["just below tie", fromBits(0x3f807fff), 0x3f80],
		["max finite bf16", fromBits(0x7f7f7fff), 0x7f7f],
		["tie above max finite → Inf", fromBits(0x7f7f8000), 0x7f80],
		["max finite f32 → Inf", fromBits(0x7f7fffff), 0x7f80],
		["-max finite f32 → -Inf", fromBits(0xff7fffff), 0xff80],
		["smallest f32 subnormal → 0", fromBits(0x00000001), 0x0000],
		["smallest bf16 subnormal", fromBits(0x00010000), 0x0001],
		["subnormal tie → even (down)", fromBits(0x00008000), 0x0000],
		["subnormal tie → even (up)", fromBits(0x00018000), 0x0002],
		["largest subnormal", fromBits(0x007f0000), 0x007f],
		["rounds up into normals", fromBits(0x007fffff), 0x0080],
	])("%s", (_name, x, bits) => {
		expect(f32ToBf16Bits(x)).toBe(bits);
	});

	test("NaN stays a quiet NaN and keeps its sign", () => {
		expect(f32ToBf16Bits(NaN)).toBe(0x7fc0);
		// A signalling NaN whose payload is only in the low 16 bits would truncate to Inf without the quiet bit.
		expect(f32ToBf16Bits(fromBits(0x7f800001))).toBe(0x7fc0);
		expect(f32ToBf16Bits(fromBits(0xff800001))).toBe(0xffc0);
		expect(f32ToBf16Bits(fromBits(0x7f810000))).toBe(0x7fc1);
	});
});

describe("bf16 → f32 scalar", () => {
	test.each([
		[0x0000, 0],
		[0x3f80, 1],
		[0xc000, -2],
		[0x7f80, Infinity],
		[0xff80, -Infinity],
		[0x0001, 2 ** -133],
		[0x7f7f, (2 - 2 ** -7) * 2 ** 127],
		[0x3f81, 1 + 2 ** -7],
	])("bits %i", (bits, value) => {
		expect(bf16BitsToF32(bits)).toBe(value);
	});
	test("-0 and NaN", () => {
		expect(Object.is(bf16BitsToF32(0x8000), -0)).toBe(true);
		expect(bf16BitsToF32(0x7fc0)).toBeNaN();
		expect(bf16BitsToF32(0xff81)).toBeNaN();
	});
});

describe("f32 → f16 scalar", () => {
	test.each([
		["+0", 0, 0x0000],
		["-0", -0, 0x8000],
		["1", 1, 0x3c00],
		["-2", -2, 0xc000],
		["+Inf", Infinity, 0x7c00],
		["-Inf", -Infinity, 0xfc00],
		["max finite 65504", 65504, 0x7bff],
		["65519 rounds down", 65519, 0x7bff],
		["65520 ties to Inf", 65520, 0x7c00],
		["-65520 ties to -Inf", -65520, 0xfc00],
		["1e6 overflows", 1e6, 0x7c00],
		["tie 1+2^-11 → even (down)", 1 + 2 ** -11, 0x3c00],
		["tie 1+3·2^-11 → even (up)", 1 + 3 * 2 ** -11, 0x3c02],
		["above tie", 1 + 2 ** -11 + 2 ** -20, 0x3c01],
		["smallest subnormal 2^-24", 2 ** -24, 0x0001],
		["2^-25 ties to 0", 2 ** -25, 0x0000],
		["above 2^-25 → smallest subnormal", 2 ** -25 + 2 ** -40, 0x0001],
		["3·2^-25 ties to even 2", 3 * 2 ** -25, 0x0002],
		["largest subnormal", 1023 * 2 ** -24, 0x03ff],
		["-largest subnormal", -1023 * 2 ** -24, 0x83ff],
		["smallest normal", 2 ** -14, 0x0400],
		["tie between subnormal and normal → even (normal)", 2 ** -14 - 2 ** -25, 0x0400],
		["f32 subnormal → 0", fromBits(0x00000001), 0x0000],
		["-tiny → -0", -(2 ** -30), 0x8000],
	])("%s", (_name, x, bits) => {
		expect(f32ToF16Bits(x)).toBe(bits);
	});

	test("NaN stays a quiet NaN and keeps its sign", () => {
		expect(f32ToF16Bits(NaN)).toBe(0x7e00);
		expect(f32ToF16Bits(fromBits(0x7f800001))).toBe(0x7e00);
		expect(f32ToF16Bits(fromBits(0xff802000))).toBe(0xfe01);
	});
});

describe("f16 → f32 scalar", () => {
	test.each([
		[0x0000, 0],
		[0x3c00, 1],
		[0xc000, -2],
		[0x7bff, 65504],
		[0x7c00, Infinity],
		[0xfc00, -Infinity],
		[0x0001, 2 ** -24],
		[0x03ff, 1023 * 2 ** -24],
		[0x0400, 2 ** -14],
		[0x83ff, -1023 * 2 ** -24],
		[0x3555, 0.333251953125],
	])("bits %i", (bits, value) => {
		expect(f16BitsToF32(bits)).toBe(value);
	});
	test("-0 and NaN", () => {
		expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
		expect(f16BitsToF32(0x7e00)).toBeNaN();
		expect(f16BitsToF32(0xfc01)).toBeNaN();
	});
});

/** Every 16-bit pattern, as little-endian bytes. */
function allPatterns(): { bits: Uint16Array; bytes: Uint8Array } {
	const bits = new Uint16Array(65536);
	for (let i = 0; i < bits.length; i++) bits[i] = i;
	return { bits, bytes: new Uint8Array(bits.buffer) };
}

describe.each([["BF16", 0x7f80, bf16BitsToF32] as const, ["F16", 0x7c00, f16BitsToF32] as const])(
	"all 65536 %s bit patterns",
	(dtype, expBits, scalar) => {
		test("decode then encode gives the same bits; NaN stays NaN", () => {
			const { bits, bytes } = allPatterns();
			const f32 = decodeToF32(bytes, dtype);
			const back = new Uint16Array(encodeFromF32(f32, dtype).buffer);
			for (let i = 0; i < 65536; i++) {
				if (isNaN16(i, expBits)) {
					expect(isNaN16(back[i]!, expBits)).toBe(true);
					expect(back[i]! & 0x8000).toBe(i & 0x8000);
				} else if (back[i] !== bits[i]) {
					expect.fail(`pattern 0x${i.toString(16)} came back as 0x${back[i]!.toString(16)}`);
				}
			}
		});

		test("the array decoder agrees with the scalar helper", () => {
			const { bytes } = allPatterns();
			const f32 = decodeToF32(bytes, dtype);
			for (let i = 0; i < 65536; i += 1) {
				const v = scalar(i);
				if (Number.isNaN(v) ? !Number.isNaN(f32[i]) : !Object.is(f32[i], v)) {
					expect.fail(`pattern 0x${i.toString(16)}: array ${f32[i]} vs scalar ${v}`);
				}
			}
		});
	},
);

describe("array conversions", () => {
	const values = [0, -0, 1, -1.5, Math.PI, 65504, 1e-7, -(2 ** -20), 1e30, Infinity, -Infinity];

	test("the array encoder agrees with the scalar helpers (including random bit patterns)", () => {
		const src = new Float32Array(4096);
		const u = new Uint32Array(src.buffer);
		let x = 12345;
		for (let i = 0; i < u.length; i++) {
			x = (Math.imul(x, 1103515245) + 12345) >>> 0;
			u[i] = x;
		}
		src.set(values);
		const bf = new Uint16Array(encodeFromF32(src, "BF16").buffer);
		const hf = new Uint16Array(encodeFromF32(src, "F16").buffer);
		for (let i = 0; i < src.length; i++) {
			const v = fromBits(u[i]!);
			expect(bf[i]).toBe(f32ToBf16Bits(v));
			expect(hf[i]).toBe(f32ToF16Bits(v));
		}
	});

	test.each(["F16", "BF16", "F32", "F64"] as const)("%s decodes from an unaligned view", (dtype) => {
		const src = new Float32Array(values);
		const encoded = encodeFromF32(src, dtype);
		const expected = decodeToF32(encoded, dtype);
		for (const offset of [1, 2, 3, 5]) {
			const buf = new Uint8Array(encoded.byteLength + offset);
			buf.set(encoded, offset);
			const view = buf.subarray(offset);
			expect(Array.from(decodeToF32(view, dtype))).toEqual(Array.from(expected));
			expect(Array.from(buf.subarray(offset))).toEqual(Array.from(encoded)); // input untouched
		}
	});

	test.each(["F16", "BF16", "F32", "F64"] as const)("%s encodes into an unaligned out", (dtype) => {
		const src = new Float32Array(values);
		const encoded = encodeFromF32(src, dtype);
		const buf = new Uint8Array(encoded.byteLength + 3);
		const out = buf.subarray(3);
		expect(encodeFromF32(src, dtype, out)).toBe(out);
		expect(Array.from(out)).toEqual(Array.from(encoded));
	});

	test("F32 and F64 round trips are exact for float32 values", () => {
		const src = new Float32Array(values);
		for (const dtype of ["F32", "F64"] as const) {
			expect(Array.from(decodeToF32(encodeFromF32(src, dtype), dtype))).toEqual(Array.from(src));
		}
		expect(encodeFromF32(src, "F64").byteLength).toBe(values.length * 8);
	});

	test("F64 → F32 rounds to nearest even", () => {
		const bytes = new Uint8Array(new Float64Array([1 + 2 ** -24, 1 + 3 * 2 ** -24, 1e300, 0.1]).buffer);
		expect(Array.from(decodeToF32(bytes, "F64"))).toEqual([1, 1 + 2 ** -22, Infinity, Math.fround(0.1)]);
	});

	test("writes into a caller's out array and rejects wrong lengths", () => {
		const out = new Float32Array(2);
		const bytes = new Uint8Array(new Uint16Array([0x3f80, 0xc000]).buffer);
		expect(decodeToF32(bytes, "BF16", out)).toBe(out);
		expect(Array.from(out)).toEqual([1, -2]);
		expect(() => decodeToF32(bytes, "BF16", new Float32Array(3))).toThrow(RangeError);
		expect(() => decodeToF32(bytes.subarray(1), "BF16")).toThrow(RangeError);
		expect(() => encodeFromF32(out, "F16", new Uint8Array(3))).toThrow(RangeError);
	});

	test("empty input", () => {
		expect(decodeToF32(new Uint8Array(0), "BF16").length).toBe(0);
		expect(encodeFromF32(new Float32Array(0), "F16").byteLength).toBe(0);
	});
});

describe("encodeChecked: encoding and the non-finite check in one pass (issue 12, item 10)", () => {
	const DTYPES = ["BF16", "F16", "F32", "F64"] as const;
	const SIZE = { BF16: 2, F16: 2, F32: 4, F64: 8 } as const;
	/** Values at the edge of each dtype: finite in all four, or NaN / ±Inf in all, or finite in float32 only. */
	const finiteEverywhere = [0, -0, 1, -2.5, 65504, -65504, 1e-8, 2 ** -149];
	const nonFiniteEverywhere = [NaN, Infinity, -Infinity];
	const overflows = { BF16: [3.4e38, -3.4028234e38], F16: [65520, -70000, 1e30], F32: [], F64: [] } as const;

	test.each(DTYPES)("%s: true for finite output, false as soon as one value encodes to NaN or ±Inf, at any position", (dtype) => {
		for (const n of [1, 2, 3, 7, 64, 65]) {
			const src = new Float32Array(n).map((_, i) => finiteEverywhere[i % finiteEverywhere.length]!);
			const out = new Uint8Array(n * SIZE[dtype]);
			expect(encodeChecked(src, dtype, out)).toBe(true);
			expect(Array.from(out)).toEqual(Array.from(encodeFromF32(src, dtype)));
			for (const bad of [...nonFiniteEverywhere, ...overflows[dtype]]) {
				for (const at of [0, n - 1, n >> 1]) {
					const poisoned = src.slice();
					poisoned[at] = bad;
					expect(encodeChecked(poisoned, dtype, out), `${dtype} n=${n} ${bad} at ${at}`).toBe(false);
					expect(Array.from(out)).toEqual(Array.from(encodeFromF32(poisoned, dtype)));
					expect(firstNonFinite(poisoned, dtype)).toEqual({ index: at, value: Math.fround(bad) });
				}
			}
			expect(firstNonFinite(src, dtype)).toBeUndefined();
		}
	});

	test.each(DTYPES)("%s: the same answer into an unaligned out", (dtype) => {
		const src = new Float32Array([1, 2, NaN, 4, 5]);
		const out = new Uint8Array(5 * SIZE[dtype] + 1).subarray(1);
		expect(encodeChecked(src, dtype, out)).toBe(false);
		expect(Array.from(out)).toEqual(Array.from(encodeFromF32(src, dtype)));
		expect(encodeChecked(new Float32Array([1, 2, 3]), dtype, new Uint8Array(3 * SIZE[dtype] + 1).subarray(1))).toBe(true);
	});

	test("random bit patterns: the flag is exactly 'some scalar encoding has all exponent bits set'", () => {
		let x = 99;
		for (let trial = 0; trial < 200; trial++) {
			const u = new Uint32Array(33);
			for (let i = 0; i < u.length; i++) {
				x = (Math.imul(x, 1103515245) + 12345) >>> 0;
				// Mostly moderate values; some with the top exponents, where rounding may overflow.
				u[i] = trial % 3 === 0 ? x : (x & 0x80ffffff) | ((((x >>> 24) % 16) + (trial % 3 === 1 ? 120 : 240)) << 23);
			}
			const src = new Float32Array(u.buffer);
			for (const dtype of DTYPES) {
				const expected = Array.from(src).every((v) => {
					if (dtype === "BF16") return (f32ToBf16Bits(v) & 0x7f80) !== 0x7f80;
					if (dtype === "F16") return (f32ToF16Bits(v) & 0x7c00) !== 0x7c00;
					return Number.isFinite(v);
				});
				expect(encodeChecked(src, dtype, new Uint8Array(33 * SIZE[dtype])), `${dtype} trial ${trial}`).toBe(expected);
			}
			expect(allFiniteF32(src)).toBe(Array.from(src).every(Number.isFinite));
		}
	});
});
