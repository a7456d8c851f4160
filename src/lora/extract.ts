/**
 * LoRA extraction (`merge extract-lora`): for every 2-D weight that differs between a base and a fine-tuned model, a
 * rank-R truncated SVD of the delta Δ = W_model − W_base (randomized, svd.ts) is split evenly as B = U·√S and
 * A = √S·Vᵀ (both factors of the same magnitude, which keeps them representable in bf16), and written as a PEFT
 * adapter: `adapter_model.safetensors` with PEFT's names, `adapter_config.json` with lora_alpha = r so the scale is 1
 * (rank_pattern / alpha_pattern for modules whose smaller dimension is below R), and a README with the error table.
 * Input embeddings are written as `lora_embedding_A/B` (PEFT's layout for nn.Embedding: the transpose). Each module's
 * relative reconstruction error ‖Δ − B·A‖_F / ‖Δ‖_F is measured on the factors as written (after rounding to the
 * adapter dtype) and reported. Modules are processed one at a time: memory is about three copies of the largest
 * weight in float32 plus the adapter itself, which is assembled in memory and written atomically at the end.
 */
import { LoraError } from "../errors.js";
import { decodeToF32, encodeFromF32 } from "../io/convert.js";
import { type FloatDtype, isFloatDtype } from "../io/dtypes.js";
import type { ModelSource } from "../model/model-source.js";
import { PEFT_PREFIX } from "./adapter.js";
import { randomizedSvd, type SvdOptions } from "./svd.js";

/**
 * Last name components of nn.Embedding modules in Hugging Face models (token and position embeddings): PEFT wraps
 * those with its Embedding layer, whose factors are saved as lora_embedding_A/B. Everything else 2-D is nn.Linear.
 */
const EMBEDDING_MODULES = [
	"embed_tokens",
	"wte",
	"wpe",
	"word_embeddings",
	"embed_in",
	"embed_positions",
	"position_embeddings",
	"tok_embeddings",
];

/** How an adapter is extracted: its rank, dtype and which modules, plus the randomized SVD's settings. */
export interface ExtractOptions extends Omit<SvdOptions, "key"> {
	rank: number;
	/** dtype of the adapter's tensors (default F32). */
	dtype?: FloatDtype;
	/** Only tensors whose name matches (default: every 2-D weight). */
	include?: RegExp;
	/** Written to adapter_config.json as base_model_name_or_path. */
	baseName?: string;
	signal?: AbortSignal;
}

/** One extracted module. */
export interface ExtractedModule {
	module: string;
	kind: "linear" | "embedding";
	shape: number[];
	rank: number;
	/** ‖Δ − B·A‖_F / ‖Δ‖_F with the factors as written. */
	error: number;
}

/** Progress of an extraction, module by module. */
export type ExtractEvent =
	| { event: "planned"; candidates: number }
	| { event: "module"; index: number; total: number; module: ExtractedModule }
	| { event: "skipped"; tensor: string; reason: string }
	| { event: "warning"; message: string };

/** The adapter in memory: tensors in write order, the config, and the per-module report. */
export interface ExtractedAdapter {
	tensors: Array<{ name: string; shape: number[]; dtype: FloatDtype; data: Uint8Array }>;
	config: Record<string, unknown>;
	modules: ExtractedModule[];
	skipped: Array<{ tensor: string; reason: string }>;
}

/** Runs the extraction over two open models, yielding progress; returns the adapter to write. */
export async function* extractLora(
	base: ModelSource,
	model: ModelSource,
	opts: ExtractOptions,
): AsyncGenerator<ExtractEvent, ExtractedAdapter> {
	if (!Number.isSafeInteger(opts.rank) || opts.rank < 1)
		throw new LoraError("InvalidConfig", model.location, `rank ${opts.rank} is not a positive integer`);
	const dtype = opts.dtype ?? "F32";
	const skipped: ExtractedAdapter["skipped"] = [];
	const candidates: string[] = [];
	for (const name of model.names()) {
		if (opts.include !== undefined && !opts.include.test(name)) continue;
		const why = await skipReason(base, model, name);
		if (why === undefined) candidates.push(name);
		else if (why !== "") {
			skipped.push({ tensor: name, reason: why });
			yield { event: "skipped", tensor: name, reason: why };
		}
	}
	yield { event: "planned", candidates: candidates.length };
	const tensors: ExtractedAdapter["tensors"] = [];
	const modules: ExtractedModule[] = [];
	for (const [index, name] of candidates.entries()) {
		if (opts.signal?.aborted) throw new LoraError("NothingToExtract", model.location, "extraction interrupted; nothing was written");
		const [rows, cols] = model.info(name).shape as [number, number];
		const delta = (await model.read(name)).data;
		const b = (await base.read(name)).data;
		for (let i = 0; i < delta.length; i++) delta[i] = delta[i]! - b[i]!;
		const svd = randomizedSvd(delta, rows, cols, opts.rank, { ...opts, key: name });
		const module = name.slice(0, -".weight".length);
		if (svd.rank === 0 || svd.s[0] === 0) {
			skipped.push({ tensor: name, reason: "unchanged" });
			yield { event: "skipped", tensor: name, reason: "unchanged" };
			continue;
		}
		const r = svd.rank;
		// left = U√S (rows × r), right = √S Vᵀ (r × cols), rounded to the adapter dtype.
		const left = new Float32Array(rows * r);
		const right = new Float32Array(r * cols);
		for (let t = 0; t < r; t++) {
			const root = Math.sqrt(svd.s[t]!);
			for (let i = 0; i < rows; i++) left[i * r + t] = svd.u[i * r + t]! * root;
			for (let c = 0; c < cols; c++) right[t * cols + c] = svd.vt[t * cols + c]! * root;
		}
		const l = decodeToF32(encodeFromF32(left, dtype), dtype);
		const rt = decodeToF32(encodeFromF32(right, dtype), dtype);
		const error = relativeError(delta, l, rt, rows, cols, r);
		const kind = EMBEDDING_MODULES.includes(module.split(".").pop()!) ? "embedding" : "linear";
		if (kind === "linear") {
			// W (out × in) += B A: B = left (out × r), A = right (r × in).
			tensors.push({ name: `${PEFT_PREFIX}${module}.lora_A.weight`, shape: [r, cols], dtype, data: encodeFromF32(rt, dtype) });
			tensors.push({ name: `${PEFT_PREFIX}${module}.lora_B.weight`, shape: [rows, r], dtype, data: encodeFromF32(l, dtype) });
		} else {
			// W (vocab × dim) += (B A)ᵀ: A = leftᵀ (r × vocab), B = rightᵀ (dim × r).
			tensors.push({
				name: `${PEFT_PREFIX}${module}.lora_embedding_A`,
				shape: [r, rows],
				dtype,
				data: encodeFromF32(transpose(l, rows, r), dtype),
			});
			tensors.push({
				name: `${PEFT_PREFIX}${module}.lora_embedding_B`,
				shape: [cols, r],
				dtype,
				data: encodeFromF32(transpose(rt, r, cols), dtype),
			});
		}
		const report: ExtractedModule = { module, kind, shape: [rows, cols], rank: r, error };
		modules.push(report);
		yield { event: "module", index, total: candidates.length, module: report };
	}
	if (modules.length === 0) {
		throw new LoraError(
			"NothingToExtract",
			model.location,
			`no 2-D weight differs from ${base.location}${opts.include !== undefined ? ` among the tensors matching ${opts.include}` : ""}` +
				`: there is nothing to extract`,
		);
	}
	return { tensors, config: adapterConfig(base, modules, opts), modules, skipped };
}

/** Why a tensor is not a candidate: undefined = candidate, "" = silently skipped (unchanged non-matrix), else the reason. */
async function skipReason(base: ModelSource, model: ModelSource, name: string): Promise<string | undefined> {
	if (!base.has(name)) return "not in the base model";
	const mi = model.info(name);
	const bi = base.info(name);
	if (mi.shape.join() !== bi.shape.join()) return `shape [${mi.shape.join(", ")}] differs from the base's [${bi.shape.join(", ")}]`;
	if (!isFloatDtype(mi.dtype) || !isFloatDtype(bi.dtype)) return "";
	if (mi.shape.length === 2 && name.endsWith(".weight")) return undefined;
	// A norm, bias or other non-matrix: a LoRA cannot carry it, so say so when it changed.
	const same = Buffer.from(await model.readRaw(name)).equals(Buffer.from(await base.readRaw(name)));
	return same ? "" : "changed, but not a 2-D weight: a LoRA adapter cannot carry it";
}

/** ‖Δ − L·R‖_F / ‖Δ‖_F in float64. */
function relativeError(delta: Float32Array, l: Float32Array, r: Float32Array, rows: number, cols: number, rank: number): number {
	let err = 0;
	let norm = 0;
	const row = new Float64Array(cols);
	for (let i = 0; i < rows; i++) {
		row.fill(0);
		for (let t = 0; t < rank; t++) {
			const a = l[i * rank + t]!;
			for (let c = 0; c < cols; c++) row[c]! += a * r[t * cols + c]!;
		}
		for (let c = 0; c < cols; c++) {
			const d = delta[i * cols + c]!;
			err += (d - row[c]!) ** 2;
			norm += d * d;
		}
	}
	return norm > 0 ? Math.sqrt(err / norm) : 0;
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
	const out = new Float32Array(rows * cols);
	for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j]!;
	return out;
}

/** A regex that matches exactly one module name in PEFT's `(.*\.)?(key)$` pattern matching. */
const escapeModule = (m: string) => m.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** adapter_config.json: lora_alpha = r (scale 1), patterns for modules of smaller rank, target_modules. */
function adapterConfig(base: ModelSource, modules: ExtractedModule[], opts: ExtractOptions): Record<string, unknown> {
	const rankPattern: Record<string, number> = {};
	for (const m of modules) if (m.rank !== opts.rank) rankPattern[escapeModule(m.module)] = m.rank;
	// Short names (q_proj, ...) when every 2-D weight of the base with that name was extracted; else the full names.
	const short = [...new Set(modules.map((m) => m.module.split(".").pop()!))];
	const extracted = new Set(modules.map((m) => m.module));
	const ambiguous = base
		.names()
		.some(
			(n) =>
				n.endsWith(".weight") &&
				base.info(n).shape.length === 2 &&
				short.includes(n.slice(0, -7).split(".").pop()!) &&
				!extracted.has(n.slice(0, -7)),
		);
	return {
		peft_type: "LORA",
		task_type: "CAUSAL_LM",
		base_model_name_or_path: opts.baseName ?? null,
		r: opts.rank,
		lora_alpha: opts.rank,
		rank_pattern: rankPattern,
		alpha_pattern: { ...rankPattern },
		target_modules: ambiguous ? modules.map((m) => m.module) : short,
		fan_in_fan_out: false,
		use_rslora: false,
		use_dora: false,
		bias: "none",
		lora_dropout: 0,
		modules_to_save: null,
		inference_mode: true,
		init_lora_weights: true,
	};
}
