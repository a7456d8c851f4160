/** Test helpers for the evaluator's model tests: an in-memory TensorSource and a tolerance check. */
import { expect } from "vitest";
import { SafetensorsError } from "../../src/errors.js";
import type { TensorInfo, TensorSource } from "../../src/io/types.js";
import type { Tensor } from "../../src/tensor/tensor.js";

/** A TensorSource over float32 arrays held in memory (names keep insertion order). */
export function memorySource(tensors: Map<string, Tensor>, location = "memory"): TensorSource {
	const infos = new Map<string, TensorInfo>();
	let offset = 0;
	for (const [name, t] of tensors) {
		infos.set(name, { name, dtype: "F32", shape: [...t.shape], byteOffset: offset, byteLength: t.data.length * 4 });
		offset += t.data.length * 4;
	}
	const get = (name: string): Tensor => {
		const t = tensors.get(name);
		if (t === undefined) throw new SafetensorsError("TensorNotFound", location, "no such tensor", name);
		return t;
	};
	return {
		location,
		names: () => [...tensors.keys()],
		has: (name) => tensors.has(name),
		info: (name) => {
			get(name);
			return infos.get(name)!;
		},
		fileOf: () => location,
		metadata: () => ({}),
		read: async (name) => {
			const t = get(name);
			return { shape: [...t.shape], data: t.data.slice() };
		},
		readRows: async (name, a, b) => {
			const t = get(name);
			const row = t.data.length / (t.shape[0] ?? 1);
			return { shape: [b - a, ...t.shape.slice(1)], data: t.data.slice(a * row, b * row) };
		},
		readRaw: async (name, start, end) => {
			const t = get(name);
			return new Uint8Array(t.data.slice().buffer).slice(start ?? 0, end);
		},
		close: async () => {},
	};
}

/** Every tensor of `src`, decoded to float32. */
export async function readAll(src: TensorSource): Promise<Map<string, Tensor>> {
	const out = new Map<string, Tensor>();
	for (const name of src.names()) out.set(name, await src.read(name));
	return out;
}

/**
 * llm.c-style check: the largest |actual − expected| and where it occurred (row, column for a [rows, cols]
 * layout), asserted below `tol`; NaN anywhere fails. Returns the max difference for the caller to log.
 */
export function expectClose(
	label: string,
	actual: ArrayLike<number>,
	expected: ArrayLike<number>,
	tol: number,
	cols = actual.length,
): number {
	expect(actual.length, `${label}: length`).toBe(expected.length);
	let maxDiff = 0;
	let where = -1;
	for (let i = 0; i < actual.length; i++) {
		const d = Math.abs(actual[i]! - expected[i]!);
		if (!(d <= maxDiff)) {
			maxDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
			where = i;
		}
	}
	const at = where < 0 ? "-" : `[${Math.floor(where / cols)}, ${where % cols}] (${actual[where]} vs ${expected[where]})`;
	expect(maxDiff, `${label}: maxdiff ${maxDiff.toExponential(2)} at ${at}`).toBeLessThan(tol);
	return maxDiff;
}

/** Index of the first maximum of row `r` of a [rows, cols] array. */
export function argmaxRow(data: ArrayLike<number>, r: number, cols: number): number {
	let best = 0;
	for (let c = 1; c < cols; c++) if (data[r * cols + c]! > data[r * cols + best]!) best = c;
	return best;
}
