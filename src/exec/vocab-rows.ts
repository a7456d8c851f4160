import { ExecError } from "../errors.js";
import type { TensorSource } from "../io/types.js";
import type { JobVocab } from "../plan/types.js";
import { ROW_DEFAULT, ROW_MEAN } from "../vocab/row-plan.js";

/**
 * Elements read at once when rows are copied: 16 Mi float32 values (64 MB), so a 128k-row embedding streams in a few
 * dozen reads instead of one read per row, and no read holds more than a slice of the matrix.
 */
const ROW_RUN_ELEMENTS = 1 << 24;

/** Calls `fn(firstRow, data)` for rows [start, end) of a tensor, read in runs of at most ROW_RUN_ELEMENTS values. */
async function forRows(
	source: TensorSource,
	tensor: string,
	start: number,
	end: number,
	cols: number,
	fn: (row: number, data: Float32Array) => void,
): Promise<void> {
	const step = Math.max(1, Math.floor(ROW_RUN_ELEMENTS / cols));
	for (let r = start; r < end; r += step) {
		const stop = Math.min(end, r + step);
		fn(r, (await source.readRows(tensor, r, stop)).data);
	}
}

/** The default rows of a job (each the mean of its source rows), reading every source row once, in runs. */
async function defaultRows(
	models: readonly TensorSource[],
	vocab: JobVocab,
	cols: number,
): Promise<{ data: Float32Array; slot: Map<number, number> }> {
	const data = new Float32Array(vocab.defaults.length * cols);
	const slot = new Map<number, number>();
	// (model, tensor) → source row → the default slots that add it, with their weight.
	const wanted = new Map<string, { model: number; tensor: string; rows: Map<number, Array<[number, number]>> }>();
	vocab.defaults.forEach((d, k) => {
		slot.set(d.row, k);
		for (const f of d.from) {
			const key = `${f.model}\u0000${f.tensor}`;
			let w = wanted.get(key);
			if (w === undefined) {
				w = { model: f.model, tensor: f.tensor, rows: new Map() };
				wanted.set(key, w);
			}
			let uses = w.rows.get(f.row);
			if (uses === undefined) {
				uses = [];
				w.rows.set(f.row, uses);
			}
			uses.push([k, 1 / d.from.length]);
		}
	});
	for (const w of wanted.values()) {
		const rows = [...w.rows.keys()].sort((a, b) => a - b);
		for (let i = 0; i < rows.length; ) {
			let j = i + 1;
			while (j < rows.length && rows[j] === rows[j - 1]! + 1) j++;
			await forRows(models[w.model]!, w.tensor, rows[i]!, rows[j - 1]! + 1, cols, (first, block) => {
				for (let r = 0; r * cols < block.length; r++) {
					for (const [k, weight] of w.rows.get(first + r)!) {
						for (let c = 0; c < cols; c++) data[k * cols + c]! += weight * block[r * cols + c]!;
					}
				}
			});
			i = j;
		}
	}
	return { data, slot };
}

/** One input rebuilt to the output's rows: its own rows where it has the token, defaults, then the mean in padding rows. */
async function remapOne(
	source: TensorSource,
	tensor: string,
	map: Int32Array,
	cols: number,
	defaults: { data: Float32Array; slot: Map<number, number> },
): Promise<Float32Array> {
	const out = new Float32Array(map.length * cols);
	for (let r = 0; r < map.length; ) {
		const src = map[r]!;
		if (src === ROW_DEFAULT) {
			const k = defaults.slot.get(r);
			if (k === undefined) throw new ExecError("Backend", `${tensor}: row ${r} needs a default embedding the plan does not give`);
			out.set(defaults.data.subarray(k * cols, (k + 1) * cols), r * cols);
			r++;
			continue;
		}
		if (src === ROW_MEAN) {
			r++;
			continue;
		}
		let end = r + 1;
		while (end < map.length && map[end] === map[end - 1]! + 1) end++;
		const at = r;
		await forRows(source, tensor, src, src + (end - r), cols, (first, block) => out.set(block, (at + first - src) * cols));
		r = end;
	}
	if (map.includes(ROW_MEAN)) {
		const mean = new Float64Array(cols);
		let n = 0;
		for (let r = 0; r < map.length; r++) {
			if (map[r] === ROW_MEAN) continue;
			n++;
			for (let c = 0; c < cols; c++) mean[c]! += out[r * cols + c]!;
		}
		for (let c = 0; c < cols; c++) mean[c] = n > 0 ? mean[c]! / n : 0;
		for (let r = 0; r < map.length; r++) if (map[r] === ROW_MEAN) for (let c = 0; c < cols; c++) out[r * cols + c] = mean[c]!;
	}
	return out;
}

/**
 * The inputs of a vocabulary-sized job with their rows rebuilt to the output vocabulary (base first when the job has
 * one, as in `vocab.maps`). Memory: one output-sized matrix per input plus the default rows; sources are read in runs.
 */
export async function readRemapped(
	models: readonly TensorSource[],
	slots: ReadonlyArray<{ model: number; tensor: string }>,
	vocab: JobVocab,
	shape: readonly number[],
): Promise<Float32Array[]> {
	const cols = shape.slice(1).reduce((a, d) => a * d, 1);
	const defaults = await defaultRows(models, vocab, cols);
	const out: Float32Array[] = [];
	for (const [i, s] of slots.entries()) out.push(await remapOne(models[s.model]!, s.tensor, vocab.maps[i]!, cols, defaults));
	return out;
}
