/** A dense float32 tensor in C order. */
export interface Tensor {
	readonly shape: readonly number[];
	readonly data: Float32Array;
}

/** Number of elements of a shape (1 for a scalar, shape `[]`). */
export function numel(shape: readonly number[]): number {
	let n = 1;
	for (const d of shape) n *= d;
	return n;
}

export function shapeEquals(a: readonly number[], b: readonly number[]): boolean {
	return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A shape as people write it in messages and tables: `[4096, 14336]`, `[]` for a scalar. */
export function formatShape(shape: readonly number[]): string {
	return `[${shape.join(", ")}]`;
}
