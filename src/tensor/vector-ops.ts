/**
 * Streaming helpers for methods that work on a handful of vectors at once (nuslerp, multislerp, karcher,
 * model_stock): every quantity those methods need is an inner product between inputs, so one pass builds the
 * small Gram matrix in float64 and a second pass writes the output, with no tensor-sized temporaries.
 */
import { MethodError } from "../errors.js";
import { numel } from "./tensor.js";

/**
 * Inner products of the offsets `vᵢ − base` (or of the `vᵢ` themselves without a base) over elements
 * [start, end): entry `i·N + j` of the returned N×N row-major matrix is ⟨vᵢ − b, vⱼ − b⟩, summed in float64.
 */
export function offsetGram(
	vectors: readonly Float32Array[],
	base: Float32Array | undefined,
	start = 0,
	end = vectors[0]?.length ?? 0,
): Float64Array {
	const n = vectors.length;
	const gram = new Float64Array(n * n);
	const d = new Float64Array(n);
	for (let k = start; k < end; k++) {
		const b = base === undefined ? 0 : (base[k] as number);
		for (let i = 0; i < n; i++) {
			d[i] = (vectors[i] as Float32Array)[k]! - b;
		}
		for (let i = 0; i < n; i++) {
			const di = d[i]!;
			for (let j = i; j < n; j++) {
				gram[i * n + j]! += di * d[j]!;
			}
		}
	}
	for (let i = 0; i < n; i++) {
		for (let j = 0; j < i; j++) {
			gram[i * n + j] = gram[j * n + i]!;
		}
	}
	return gram;
}

/**
 * Writes `out[k] = b[k] + Σᵢ coeffs[i]·(vᵢ[k] − b[k])` for k in [start, end), with b = 0 when there is no
 * base. The sum runs in float64 and is rounded to float32 once.
 */
export function combineOffsets(
	out: Float32Array,
	vectors: readonly Float32Array[],
	coeffs: ArrayLike<number>,
	base: Float32Array | undefined,
	start = 0,
	end = out.length,
): void {
	const n = vectors.length;
	for (let k = start; k < end; k++) {
		const b = base === undefined ? 0 : (base[k] as number);
		let acc = 0;
		for (let i = 0; i < n; i++) {
			acc += coeffs[i]! * ((vectors[i] as Float32Array)[k]! - b);
		}
		out[k] = b + acc;
	}
}

/**
 * Checks that the base (if any) and every model have the same length, and that the length matches `shape`
 * when one is given. Throws MethodError "InvalidInput" naming the tensor and the offending lengths.
 */
export function assertInputs(
	method: string,
	tensorName: string,
	base: Float32Array | undefined,
	models: readonly Float32Array[],
	shape?: readonly number[],
): number {
	const first = base ?? models[0];
	if (first === undefined) {
		throw new MethodError("InvalidInput", method, `tensor "${tensorName}": no input tensors`);
	}
	const length = first.length;
	models.forEach((m, i) => {
		if (m.length !== length) {
			throw new MethodError("InvalidInput", method, `tensor "${tensorName}": model ${i} has ${m.length} elements, expected ${length}`);
		}
	});
	if (shape !== undefined && numel(shape) !== length) {
		throw new MethodError("InvalidInput", method, `tensor "${tensorName}": shape [${shape.join(", ")}] does not hold ${length} elements`);
	}
	return length;
}

/**
 * The length of the vectors a row-wise method works on: the whole tensor when `flatten`, else the last
 * dimension (a scalar or 1-D tensor is one row).
 */
export function rowLength(shape: readonly number[], length: number, flatten: boolean): number {
	if (flatten || shape.length === 0) return length;
	return shape[shape.length - 1]!;
}

/** Throws MethodError "InvalidInput" unless `min ≤ count ≤ max` (the planner checks this first; kernels re-check). */
export function assertModelCount(method: string, tensorName: string, count: number, min: number, max: number): void {
	if (count < min || count > max) {
		const want = min === max ? `${min}` : max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min} to ${max}`;
		throw new MethodError("InvalidInput", method, `tensor "${tensorName}": needs ${want} non-base models, got ${count}`);
	}
}

/**
 * Rearranges a[lo..hi] (inclusive, no NaN) so that a[k] holds the value a full ascending sort would put there,
 * everything before it is ≤ and everything after it ≥ (Hoare quickselect, median-of-three pivot, O(n)
 * expected). Returns a[k].
 */
export function selectInPlace(a: Float64Array, k: number, lo = 0, hi = a.length - 1): number {
	while (hi > lo) {
		const mid = lo + ((hi - lo) >> 1);
		const x = a[lo]!;
		const y = a[mid]!;
		const z = a[hi]!;
		const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
		let i = lo;
		let j = hi;
		while (i <= j) {
			while (a[i]! < pivot) i++;
			while (a[j]! > pivot) j--;
			if (i <= j) {
				const t = a[i]!;
				a[i++] = a[j]!;
				a[j--] = t;
			}
		}
		if (k <= j) hi = j;
		else if (k >= i) lo = i;
		else return a[k]!;
	}
	return a[k]!;
}
