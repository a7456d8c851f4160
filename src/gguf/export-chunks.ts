/**
 * The export's units of work: each tensor split into chunks of whole rows (whole heads for q/k, so the rotary
 * permutation stays inside a chunk), each chunk knowing the source bytes it reads and the output bytes it
 * writes at its final place in the file. Any thread can then read, encode and write any chunk on its own.
 */

import { GgufError } from "../errors.js";
import { dtypeBytes, type FloatDtype, isFloatDtype } from "../io/dtypes.js";
import type { TensorSource } from "../io/types.js";
import { GGML_TYPES, type GgmlType } from "./constants.js";
import type { ExportPlan } from "./export-plan.js";
import type { GgufLayout } from "./layout.js";

/** Values per chunk (4 Mi: 8 MB of bf16 read, at most 16 MB written): large transfers, small next to RAM. */
export const CHUNK_VALUES = 4 * 2 ** 20;

export interface ExportChunk {
	/** Position of the tensor in the file (and in plan.tensors). */
	tensor: number;
	/** The tensor's name in the source, and the file holding it. */
	name: string;
	file: string;
	dtype: FloatDtype;
	/** Bytes [start, end) of the source tensor. */
	start: number;
	end: number;
	/** Rows of `cols` values (a 1-D tensor is one row). */
	rows: number;
	cols: number;
	/** For q/k projections: the head size whose rows are permuted to llama.cpp's rotary layout. */
	headDim?: number;
	type: GgmlType;
	/** Absolute offset in the output file, and the bytes written there. */
	position: number;
	bytes: number;
}

/** Every chunk of the export, in file order. */
export function planChunks(source: TensorSource, plan: ExportPlan, layout: GgufLayout, chunkValues = CHUNK_VALUES): ExportChunk[] {
	const chunks: ExportChunk[] = [];
	for (const [index, t] of plan.tensors.entries()) {
		const info = source.info(t.name);
		if (!isFloatDtype(info.dtype))
			throw new GgufError("UnsupportedModel", plan.location, `dtype ${info.dtype} is not a float type`, t.name);
		const placed = layout.tensors[index]!;
		const cols = t.dims[0]!;
		const rows = t.dims.slice(1).reduce((a, d) => a * d, 1);
		const unit = t.rotary !== undefined ? plan.config.headDim : 1;
		const rowsPerChunk = Math.max(unit, Math.floor(chunkValues / cols / unit) * unit);
		const inRow = cols * dtypeBytes(info.dtype);
		const outRow = (cols / GGML_TYPES[t.ggmlType].block) * GGML_TYPES[t.ggmlType].bytes;
		for (let r = 0; r < rows; r += rowsPerChunk) {
			const n = Math.min(rowsPerChunk, rows - r);
			chunks.push({
				tensor: index,
				name: t.name,
				file: source.fileOf(t.name),
				dtype: info.dtype,
				start: r * inRow,
				end: (r + n) * inRow,
				rows: n,
				cols,
				...(t.rotary !== undefined ? { headDim: plan.config.headDim } : {}),
				type: t.ggmlType,
				position: layout.dataStart + placed.offset + r * outRow,
				bytes: n * outRow,
			});
		}
	}
	return chunks;
}
