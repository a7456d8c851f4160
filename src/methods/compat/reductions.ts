/**
 * Float32 reductions over many elements (whole tensors, rows) as torch computes them for bf16/f16/f32 tensors:
 * accumulated in float32, then rounded once to the tensor's dtype by the caller.
 *
 * Torch's accumulation order for such sums is not a property of torch alone: the vectorised cascade sum depends on
 * the CPU's vector width (AVX2 or AVX-512 kernels), and sums over more than 32768 elements are split across the
 * thread pool, so the same mergekit run gives float32 sums that differ in their last bits between machines. There
 * is no order to reproduce; these helpers return the float32 value nearest the exact sum (accumulated in float64,
 * rounded once), which every order approximates. After rounding to bf16/f16 the results agree with torch's unless
 * the float32 sum lies within its few ulps of rounding error of a bf16/f16 rounding boundary.
 *
 * Sums over the model axis (a handful of values per element) have a fixed order in torch, model by model; those are
 * reproduced exactly by {@link modelAxisSum}.
 */

/** Σ x[start..end) as float32 (see the file comment). */
export function f32Sum(x: Float32Array, start = 0, end = x.length): number {
	let s = 0;
	for (let i = start; i < end; i++) s += x[i]!;
	return Math.fround(s);
}

/** Σ |x[start..end)| as float32. */
export function f32AbsSum(x: Float32Array, start = 0, end = x.length): number {
	let s = 0;
	for (let i = start; i < end; i++) s += Math.abs(x[i]!);
	return Math.fround(s);
}

/** Σ a[i]·b[i] over [start, end) as float32 (each product of two float32 values is exact in float64). */
export function f32Dot(a: Float32Array, b: Float32Array, start = 0, end = a.length): number {
	let s = 0;
	for (let i = start; i < end; i++) s += a[i]! * b[i]!;
	return Math.fround(s);
}

/** Σ x[i]² over [start, end) as float32. */
export function f32SumSquares(x: Float32Array, start = 0, end = x.length): number {
	return f32Dot(x, x, start, end);
}

/**
 * The float32 norm ‖x[start..end)‖ as torch's vector_norm gives it: the float32 sum of squares, then a float32 sqrt
 * (Math.sqrt of a float32 value rounded to float32 is the correctly rounded float32 square root).
 */
export function f32Norm(x: Float32Array, start = 0, end = x.length): number {
	return Math.fround(Math.sqrt(f32SumSquares(x, start, end)));
}

/**
 * A sum over the model axis in torch's order: a float32 accumulator starting at +0, adding each model's value in
 * turn (`torch.stack(...).sum(dim=0)` on bf16/f16/f32). The caller rounds the result to the dtype.
 */
export function modelAxisSum(values: readonly number[]): number {
	let acc = 0;
	for (const v of values) acc = Math.fround(acc + v);
	return acc;
}
