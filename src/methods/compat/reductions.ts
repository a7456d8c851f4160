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
function f32SumSquares(x: Float32Array, start = 0, end = x.length): number {
	return f32Dot(x, x, start, end);
}

/**
 * The float32 norm ‖x[start..end)‖ as torch's vector_norm gives it: the float32 sum of squares, then a float32 sqrt
 * (Math.sqrt of a float32 value rounded to float32 is the correctly rounded float32 square root).
 */
export function f32Norm(x: Float32Array, start = 0, end = x.length): number {
	return Math.fround(Math.sqrt(f32SumSquares(x, start, end)));
}

/** Lanes of an AVX2 float32 vector: torch's default CPU kernels on x86 machines without AVX-512. */
const TORCH_F32_LANES = 8;

/**
 * ‖x‖ of a float32 tensor as torch's CPU `linalg.vector_norm` computes it (its vectorised last-dim kernel, one
 * thread): lane j of an 8-wide float32 accumulator sums x[i]² for i ≡ j (mod 8) in order, the lanes are added
 * left to right, then the tail (n mod 8 elements) one by one, then a float32 sqrt. Squares of bf16/f16 values are
 * exact in float32, so the order is all there is to reproduce. On AVX-512 builds torch uses 16 lanes and may
 * differ in the last bits (see the file comment); this is the order of AVX2 machines (and of the reference).
 */
export function torchNormF32(x: Float32Array): number {
	const f = Math.fround;
	const lanes = new Float64Array(TORCH_F32_LANES);
	const body = x.length - (x.length % TORCH_F32_LANES);
	for (let i = 0; i < body; i += TORCH_F32_LANES) {
		for (let j = 0; j < TORCH_F32_LANES; j++) {
			const v = x[i + j]!;
			lanes[j] = f(lanes[j]! + f(v * v));
		}
	}
	let s = lanes[0]!;
	for (let j = 1; j < TORCH_F32_LANES; j++) s = f(s + lanes[j]!);
	for (let i = body; i < x.length; i++) s = f(s + f(x[i]! * x[i]!));
	return f(Math.sqrt(s));
}

/**
 * Σ x[start..end) in the order of torch's vectorised float32 row sums (AVX2): an 8-lane accumulator over the whole
 * vectors, combined by vec_reduce_all's shuffles as ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)). The n mod 8
 * tail goes either into lanes 0… before the combination (`vec::reduce_all`, float32 softmax; rows under 8 values are
 * summed in order) or one by one after it (`tailInLanes` false: the bf16/f16 softmax kernel of torch 2.x).
 */
export function torchLaneTreeSum(x: Float32Array, start: number, end: number, tailInLanes: boolean): number {
	const f = Math.fround;
	const n = end - start;
	if (tailInLanes && n < TORCH_F32_LANES) {
		let s = 0;
		for (let i = start; i < end; i++) s = f(s + x[i]!);
		return s;
	}
	const l = [0, 0, 0, 0, 0, 0, 0, 0];
	const body = end - (n % TORCH_F32_LANES);
	for (let i = start; i < body; i += TORCH_F32_LANES) for (let j = 0; j < TORCH_F32_LANES; j++) l[j] = f(l[j]! + x[i + j]!);
	if (tailInLanes) for (let i = body; i < end; i++) l[i - body] = f(l[i - body]! + x[i]!);
	let s = f(f(f(l[0]! + l[4]!) + f(l[2]! + l[6]!)) + f(f(l[1]! + l[5]!) + f(l[3]! + l[7]!)));
	if (!tailInLanes) for (let i = body; i < end; i++) s = f(s + x[i]!);
	return s;
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
