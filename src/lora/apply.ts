/**
 * A model with a LoRA adapter applied, as a ModelSource: every adapted weight reads as W + scale·B·A (transposed for
 * `fan_in_fan_out` layers and embeddings, as PEFT merges them), computed for just the elements a read asks for, so
 * streamed merges stay streamed. The sum is computed in float64 from W's decoded values and rounded once to W's
 * dtype (through float32), so `read` and `readRaw` agree and the result is what merging the adapter into the model
 * and saving it in the model's dtype gives. Tensors the adapter replaces whole (modules_to_save, biases) read from
 * the adapter, converted to the model's dtype. Everything else passes through.
 */
import { LoraError, SafetensorsError } from "../errors.js";
import { decodeToF32, encodeFromF32 } from "../io/convert.js";
import { dtypeBytes, type FloatDtype, isFloatDtype } from "../io/dtypes.js";
import type { TensorInfo } from "../io/types.js";
import type { ModelSource } from "../model/model-source.js";
import type { Tensor } from "../tensor/tensor.js";
import type { LoraAdapter, LoraModule } from "./adapter.js";

/** Factors kept decoded per thread: a streamed tensor is read in many chunks, each needing both factors. */
const FACTOR_CACHE_ENTRIES = 4;

/** Both factors laid out so that delta[row, col] = scale · Σ_k left[k·rows + row] · right[k·cols + col]. */
interface Factors {
	left: Float32Array;
	right: Float32Array;
	rows: number;
	cols: number;
	rank: number;
	scale: number;
}

/** Wraps `model` with `adapter`, after checking every adapted and replaced tensor against the model. */
export function applyLora(model: ModelSource, adapter: LoraAdapter): ModelSource {
	for (const [tensor, mod] of adapter.modules) checkModule(model, adapter, tensor, mod);
	for (const [tensor, from] of adapter.replacements) {
		if (!model.has(tensor)) throw unknown(model, adapter, tensor);
		const want = model.info(tensor).shape;
		const got = adapter.source.info(from).shape;
		if (want.join() !== got.join())
			throw new LoraError(
				"ShapeMismatch",
				adapter.dir,
				`"${from}" is [${got.join(", ")}] but the model's "${tensor}" is [${want.join(", ")}]`,
			);
		if (!isFloatDtype(model.info(tensor).dtype) || !isFloatDtype(adapter.source.info(from).dtype)) {
			throw new LoraError("Unsupported", adapter.dir, `"${tensor}" is not a float tensor; only float tensors can be replaced`);
		}
	}
	return new LoraModelSource(model, adapter);
}

function unknown(model: ModelSource, adapter: LoraAdapter, tensor: string): LoraError {
	const tied = tensor === "lm_head.weight" && model.config?.tieWordEmbeddings === true ? " (the model ties lm_head to its embeddings)" : "";
	return new LoraError(
		"UnknownModule",
		adapter.dir,
		`the adapter changes "${tensor}", which ${model.location} does not have${tied}; is it an adapter for this model?`,
	);
}

/** The adapted tensor exists, is a 2-D float tensor, and its shape matches the factors. */
function checkModule(model: ModelSource, adapter: LoraAdapter, tensor: string, mod: LoraModule): void {
	if (!model.has(tensor)) throw unknown(model, adapter, tensor);
	const info = model.info(tensor);
	if (!isFloatDtype(info.dtype)) throw new LoraError("Unsupported", adapter.dir, `"${tensor}" is ${info.dtype}, not a float tensor`);
	const [r, inDim] = adapter.source.info(mod.a).shape as [number, number];
	const outDim = adapter.source.info(mod.b).shape[0]!;
	// Linear: W is (out, in); fan_in_fan_out (Conv1D) and embeddings store it as (in, out) / (vocab, dim).
	const transposed = mod.kind === "embedding" || adapter.config.fanInFanOut;
	const want = transposed ? [inDim, outDim] : [outDim, inDim];
	if (info.shape.length !== 2 || info.shape[0] !== want[0] || info.shape[1] !== want[1]) {
		throw new LoraError(
			"ShapeMismatch",
			adapter.dir,
			`"${tensor}" is [${info.shape.join(", ")}] but the adapter's ` +
				`rank-${r} factors make [${want.join(", ")}]${transposed && mod.kind === "linear" ? " (fan_in_fan_out)" : ""}`,
		);
	}
}

class LoraModelSource implements ModelSource {
	readonly location: string;
	readonly files: string[];
	private readonly cache = new Map<string, Promise<Factors>>();

	constructor(
		private readonly model: ModelSource,
		private readonly adapter: LoraAdapter,
	) {
		this.location = `${model.location}+${adapter.dir}`;
		this.files = [...model.files, ...adapter.files];
	}

	get dir(): string {
		return this.model.dir;
	}
	get indexFile(): string | undefined {
		return this.model.indexFile;
	}
	get config(): ModelSource["config"] {
		return this.model.config;
	}
	get totalBytes(): number {
		return this.model.totalBytes;
	}

	names(): string[] {
		return this.model.names();
	}
	has(name: string): boolean {
		return this.model.has(name);
	}
	info(name: string): TensorInfo {
		return this.model.info(name);
	}
	fileOf(name: string): string {
		return this.adapter.modules.has(name) || this.adapter.replacements.has(name)
			? `${this.model.fileOf(name)}+${this.adapter.files[0]}`
			: this.model.fileOf(name);
	}
	metadata(): Record<string, string> {
		return this.model.metadata();
	}

	async read(name: string): Promise<Tensor> {
		const info = this.info(name);
		if (!this.touched(name)) return this.model.read(name);
		return { shape: [...info.shape], data: decodeToF32(await this.readRaw(name), this.floatDtype(info)) };
	}

	async readRows(name: string, rowStart: number, rowEnd: number): Promise<Tensor> {
		if (!this.touched(name)) return this.model.readRows(name, rowStart, rowEnd);
		const info = this.info(name);
		const dtype = this.floatDtype(info);
		const [rows, ...rest] = info.shape.length === 0 ? [1] : info.shape;
		if (!Number.isSafeInteger(rowStart) || !Number.isSafeInteger(rowEnd) || rowStart < 0 || rowStart > rowEnd || rowEnd > (rows ?? 1)) {
			throw new SafetensorsError("InvalidRange", this.location, `rows [${rowStart}, ${rowEnd}) are outside [0, ${rows ?? 1}]`, name);
		}
		const rowBytes = rest.reduce((a, d) => a * d, dtypeBytes(dtype));
		return {
			shape: [rowEnd - rowStart, ...rest],
			data: decodeToF32(await this.readRaw(name, rowStart * rowBytes, rowEnd * rowBytes), dtype),
		};
	}

	async readRaw(name: string, start = 0, end?: number, into?: Uint8Array): Promise<Uint8Array> {
		if (!this.touched(name)) return this.model.readRaw(name, start, end, into);
		const info = this.info(name);
		const dtype = this.floatDtype(info);
		const el = dtypeBytes(dtype);
		const stop = end ?? info.byteLength;
		if (
			!Number.isSafeInteger(start) ||
			!Number.isSafeInteger(stop) ||
			start < 0 ||
			start > stop ||
			stop > info.byteLength ||
			start % el !== 0 ||
			stop % el !== 0
		) {
			throw new SafetensorsError(
				"InvalidRange",
				this.location,
				`bytes [${start}, ${stop}) are not whole elements inside [0, ${info.byteLength}]`,
				name,
			);
		}
		if (into !== undefined && into.byteLength !== stop - start) {
			throw new SafetensorsError(
				"InvalidRange",
				this.location,
				`readRaw target holds ${into.byteLength} bytes for a range of ${stop - start}`,
				name,
			);
		}
		const values = this.adapter.modules.has(name)
			? await this.adapted(name, dtype, start / el, stop / el)
			: await this.replaced(name, start / el, stop / el);
		return encodeFromF32(values, dtype, into);
	}

	async readRawAligned(name: string, start: number, end: number, scratch: Uint8Array): Promise<Uint8Array> {
		if (!this.touched(name) && this.model.readRawAligned !== undefined) return this.model.readRawAligned(name, start, end, scratch);
		return this.readRaw(name, start, end, scratch.subarray(0, end - start));
	}

	async close(): Promise<void> {
		const results = await Promise.allSettled([this.model.close(), this.adapter.close()]);
		const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
		if (failed !== undefined) throw failed.reason;
	}

	private touched(name: string): boolean {
		return this.adapter.modules.has(name) || this.adapter.replacements.has(name);
	}

	private floatDtype(info: TensorInfo): FloatDtype {
		if (!isFloatDtype(info.dtype))
			throw new SafetensorsError("UnsupportedDtype", this.location, `unsupported dtype for merging: ${info.dtype}`, info.name);
		return info.dtype;
	}

	/** Elements [from, to) of W + scale·delta, as float32. */
	private async adapted(name: string, dtype: FloatDtype, from: number, to: number): Promise<Float32Array> {
		const el = dtypeBytes(dtype);
		const [w, f] = await Promise.all([this.model.readRaw(name, from * el, to * el), this.factors(name)]);
		const out = decodeToF32(w, dtype);
		const { left, right, rows, cols, rank, scale } = f;
		const acc = new Float64Array(cols);
		for (let row = Math.floor(from / cols); row * cols < to && row < rows; row++) {
			const c0 = Math.max(0, from - row * cols);
			const c1 = Math.min(cols, to - row * cols);
			acc.fill(0, c0, c1);
			for (let k = 0; k < rank; k++) {
				const l = left[k * rows + row]!;
				if (l === 0) continue;
				const base = k * cols;
				for (let c = c0; c < c1; c++) acc[c]! += l * right[base + c]!;
			}
			const at = row * cols - from;
			for (let c = c0; c < c1; c++) out[at + c] = out[at + c]! + scale * acc[c]!;
		}
		return out;
	}

	/** Elements [from, to) of the adapter's replacement tensor, as float32. */
	private async replaced(name: string, from: number, to: number): Promise<Float32Array> {
		const src = this.adapter.replacements.get(name)!;
		const info = this.adapter.source.info(src);
		const el = dtypeBytes(info.dtype);
		return decodeToF32(await this.adapter.source.readRaw(src, from * el, to * el), info.dtype as FloatDtype);
	}

	/** The module's factors, decoded and laid out once (a few kept per source; B is transposed). */
	private factors(name: string): Promise<Factors> {
		let f = this.cache.get(name);
		if (f === undefined) {
			if (this.cache.size >= FACTOR_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
			f = this.loadFactors(this.adapter.modules.get(name)!);
			f.catch(() => this.cache.delete(name));
			this.cache.set(name, f);
		}
		return f;
	}

	private async loadFactors(mod: LoraModule): Promise<Factors> {
		const [a, b] = await Promise.all([this.adapter.source.read(mod.a), this.adapter.source.read(mod.b)]);
		const rank = a.shape[0]!;
		const inDim = a.shape[1]!;
		const outDim = b.shape[0]!;
		// Bᵀ: (r, out).
		const bt = new Float32Array(rank * outDim);
		for (let o = 0; o < outDim; o++) for (let k = 0; k < rank; k++) bt[k * outDim + o] = b.data[o * rank + k]!;
		const transposed = mod.kind === "embedding" || this.adapter.config.fanInFanOut;
		// W[o, i] += s Σ B[o,k] A[k,i]  (left = Bᵀ, right = A); transposed: W[i, o] += s Σ A[k,i] B[o,k] (left = A, right = Bᵀ).
		return transposed
			? { left: a.data, right: bt, rows: inDim, cols: outDim, rank, scale: mod.scale }
			: { left: bt, right: a.data, rows: outDim, cols: inDim, rank, scale: mod.scale };
	}
}
