/**
 * Torch's scalar arithmetic on bfloat16 / float16 / float32 values, for `compat: mergekit`.
 *
 * A tensor of dtype D is held in a Float32Array whose values are all representable in D. On the CPU torch computes
 * every elementwise op on bf16/f16 operands in float32 and rounds the result to D (round to nearest, ties to even);
 * so does CUDA. An op here is therefore: the float32 result (Math.fround of the float64 result, which is the
 * correctly rounded float32 for + − × ÷ √ of float32 operands), then rounded to D. Transcendentals go through
 * float64 Math and one float32 rounding, which is within an ulp of torch's vectorised (Sleef) float32 versions.
 *
 * Python numbers meet a bf16/f16 tensor in two ways in torch 2.x, depending on the kernel: `*` and `/` use the
 * number as float32 ({@link TorchFloat.scalar}), while `+`, `-`, comparisons and clamp bounds round it to D first
 * ({@link TorchFloat.narrow}). Node 20 has no Math.f16round, so the float16 rounding is written out here.
 */

/** The compute dtype of a compat merge (the recipe's `dtype`), in the project's safetensors names. */
export type CompatDtype = "BF16" | "F16" | "F32";

const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

/** A float32 value rounded to bfloat16 (round to nearest, ties to even; NaN stays NaN, overflow gives ±Infinity). */
export function roundBf16(x: number): number {
	scratchF[0] = x;
	const u = scratchU[0]!;
	if ((u & 0x7f800000) === 0x7f800000) return scratchF[0]!; // Inf or NaN: unchanged
	scratchU[0] = ((u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000) >>> 0;
	return scratchF[0]!;
}

/** Smallest float16 magnitude that rounds to Infinity: 65504 + half an ulp (16); ties go to the even 65536. */
const F16_OVERFLOW = 65520;
/** Below 2^-14 float16 is subnormal, with a fixed step of 2^-24. */
const F16_MIN_NORMAL = 2 ** -14;
const F16_SUBNORMAL_STEP = 2 ** -24;

/** Rounds q ≥ 0 to an integer, ties to even (q is exact in float64). */
function roundHalfEven(q: number): number {
	const r = Math.round(q);
	return r - q === 0.5 && r % 2 === 1 ? r - 1 : r;
}

/** A float32 value rounded to float16 (round to nearest, ties to even, with subnormals; overflow gives ±Infinity). */
export function roundF16(x: number): number {
	if (Number.isNaN(x)) return x;
	const a = Math.abs(x);
	if (a >= F16_OVERFLOW) return x > 0 ? Infinity : -Infinity;
	if (a === 0) return x;
	let step = F16_SUBNORMAL_STEP;
	if (a >= F16_MIN_NORMAL) {
		scratchF[0] = a;
		const exponent = ((scratchU[0]! >>> 23) & 0xff) - 127;
		step = 2 ** (exponent - 10);
	}
	const r = roundHalfEven(a / step) * step;
	return x < 0 ? -r : r;
}

/** The rounding of a float32 value to `dtype`. */
function rounderOf(dtype: CompatDtype): (x: number) => number {
	return dtype === "BF16" ? roundBf16 : dtype === "F16" ? roundF16 : Math.fround;
}

/** Rounds every element to `dtype` in place (torch's `.to(dtype)` on load); returns the array. */
export function castInPlace(x: Float32Array, dtype: CompatDtype): Float32Array {
	if (dtype === "F32") return x;
	const r = rounderOf(dtype);
	for (let i = 0; i < x.length; i++) x[i] = r(x[i]!);
	return x;
}

/** Torch's elementwise arithmetic in one dtype: every result is the float32 result rounded to that dtype. */
export class TorchFloat {
	/** Rounds a float32 value to the dtype. */
	readonly round: (x: number) => number;

	constructor(readonly dtype: CompatDtype) {
		this.round = rounderOf(dtype);
	}

	/** A float64 result (of float32 operands) as torch stores it: float32 first, then the dtype. */
	r(x: number): number {
		return this.round(Math.fround(x));
	}

	add(a: number, b: number): number {
		return this.r(a + b);
	}

	sub(a: number, b: number): number {
		return this.r(a - b);
	}

	mul(a: number, b: number): number {
		return this.r(a * b);
	}

	div(a: number, b: number): number {
		return this.r(a / b);
	}

	/** A Python float or int as `*` and `/` use it with a bf16/f16 tensor in torch 2.x: as float32. */
	scalar(s: number): number {
		return Math.fround(s);
	}

	/** A Python number as `+`, comparisons and clamp bounds see it: rounded to the dtype (via float32). */
	narrow(s: number): number {
		return this.round(Math.fround(s));
	}

	/** A Python float converted by `torch.tensor([...], dtype=D)`: double → float32 → D. */
	fromDouble(s: number): number {
		return this.round(Math.fround(s));
	}

	exp(x: number): number {
		return this.r(Math.exp(x));
	}

	log(x: number): number {
		return this.r(Math.log(x));
	}

	sin(x: number): number {
		return this.r(Math.sin(x));
	}

	cos(x: number): number {
		return this.r(Math.cos(x));
	}

	acos(x: number): number {
		return this.r(Math.acos(x));
	}

	/** clamp(x, lo, hi) with Python-number bounds (narrowed); NaN stays NaN. */
	clamp(x: number, lo: number | undefined, hi: number | undefined): number {
		let v = x;
		if (lo !== undefined && v < this.narrow(lo)) v = this.narrow(lo);
		if (hi !== undefined && v > this.narrow(hi)) v = this.narrow(hi);
		return v;
	}
}
