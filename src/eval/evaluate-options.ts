import { EvaluationError } from "../errors.js";
import { VERSION } from "../version.js";
import type { BackendLoader, BackendName, HardwareDevice, QuantType } from "./backends/types.js";
import type { Fingerprint } from "./checkpoint.js";
import { modelFilesSignature } from "./run-meta.js";
import type { Device } from "./tfjs-backend.js";
import type { DataFileReport, EvalEvent, EvalMode, TaskName } from "./types.js";

/** The paper's setting: 3 shots per prompt. */
export const DEFAULT_SHOTS = 3;

/** The paper's setting: 3 seeds (0, 1, 2), i.e. three different shot draws per item. */
export const DEFAULT_SEEDS = 3;

/** Options of evaluate() / evaluateIter(); see docs/evaluator.md for the protocol. */
export interface EvaluateOptions {
	/** Model folders (config.json, safetensors, tokenizer.json), or .gguf files for the llama backend. Several need `ensemble: true`. */
	models: string[];
	/** Names shown in tables and reports (default: repo id for a Hugging Face cache snapshot, else the folder name). */
	modelNames?: string[];
	/** A data file or a folder holding splits. */
	data: string;
	tasks?: string[];
	mode?: EvalMode;
	/** Shots per prompt: default 3 (biomistral), 0 (harness). */
	shots?: number;
	/** A count n (seeds 0..n-1) or the seeds themselves; default 3. Zero-shot harness runs use one seed. */
	seeds?: number | number[];
	/** Score only the first N items of each task. */
	limit?: number;
	/** Prompts per model batch. */
	batch?: number;
	/** "tfjs" (default; the float64-checked reference) or "llama" (llama.cpp through node-llama-cpp). */
	backend?: BackendName;
	/** Hardware: auto (default), cpu, cuda, vulkan. */
	device?: HardwareDevice;
	/** llama backend: the weight format (default f32, the exact mode). */
	quant?: QuantType;
	/** llama backend: CPU threads. */
	threads?: number;
	/** llama backend: where converted GGUF files are kept. */
	cacheDir?: string;
	/** The longest prompt accepted (default: the model's max_position_embeddings). */
	maxTokens?: number;
	/** tfjs backend: the tfjs implementation (overrides what `device` picks). */
	tfjsDevice?: Device;
	/** tfjs backend: layer streaming. */
	streaming?: boolean | "auto";
	ensemble?: boolean;
	shotsFrom?: string;
	/** Skip malformed records and over-long prompts (with warnings) instead of stopping. */
	skipBad?: boolean;
	copBase?: 0 | 1;
	/** Add BOS: default the tokenizer's add_bos_token in biomistral mode, false in harness mode. */
	bos?: boolean;
	/** BioInstructQA: read the `*_translated` fields. */
	translated?: boolean;
	/** Keep per-item records in the report (default true). */
	includeItems?: boolean;
	/** Folder holding tokenizer.json for a model given as a .gguf file (default: the file's folder). */
	tokenizer?: string;
	/** Append each scored prompt to this JSONL file as it completes (see checkpoint.ts). */
	checkpoint?: string;
	/** Continue the run recorded in `checkpoint` instead of refusing to overwrite it. */
	resume?: boolean;
	/** Write every prompt's text and token ids to this JSONL file (the report keeps neither). */
	savePrompts?: string;
	/** Abort to stop early: the report then holds what was scored, with `partial: true`. */
	signal?: AbortSignal;
	/** Called with each progress event (the events {@link evaluateIter} yields). */
	onProgress?(ev: EvalEvent): void;
	/** Replaces the backend's loader (tests, custom backends). */
	loadModel?: BackendLoader;
}

/** The options evaluateIter acts on, defaults applied and values checked. */
interface ResolvedOptions {
	mode: EvalMode;
	ensemble: boolean;
	shots: number;
	seeds: number[];
	limit: number | undefined;
	batch: number | undefined;
	maxTokens: number | undefined;
	backendName: BackendName;
}

function positiveInt(v: number, what: string): number {
	if (!Number.isInteger(v) || v < 1) throw new EvaluationError("Config", `${what} must be a positive integer, got ${v}`);
	return v;
}

function resolveSeeds(seeds: number | number[] | undefined): number[] {
	if (typeof seeds === "number" || seeds === undefined) {
		return Array.from({ length: positiveInt(seeds ?? DEFAULT_SEEDS, "seeds") }, (_, i) => i);
	}
	if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0) || new Set(seeds).size !== seeds.length) {
		throw new EvaluationError("Config", `seeds must be distinct non-negative integers, got [${seeds.join(", ")}]`);
	}
	return seeds;
}

/** Applies the defaults and checks every option that needs no file; throws EvaluationError "Config". */
export function resolveOptions(opts: EvaluateOptions): ResolvedOptions {
	const mode = opts.mode ?? "biomistral";
	if (opts.models.length === 0) throw new EvaluationError("Config", "no model to evaluate");
	const ensemble = opts.ensemble ?? false;
	if (ensemble && opts.models.length < 2) throw new EvaluationError("Config", "an ensemble needs at least two models");
	if (!ensemble && opts.models.length > 1) {
		throw new EvaluationError("Config", `${opts.models.length} models given: evaluate them one at a time, or pass ensemble: true`);
	}
	if (opts.modelNames !== undefined && opts.modelNames.length !== opts.models.length) {
		throw new EvaluationError("Config", `${opts.modelNames.length} model names for ${opts.models.length} models`);
	}
	const shots = opts.shots ?? (mode === "harness" ? 0 : DEFAULT_SHOTS);
	if (!Number.isInteger(shots) || shots < 0) throw new EvaluationError("Config", `shots must be a non-negative integer, got ${shots}`);
	let seeds = resolveSeeds(opts.seeds);
	if (mode === "harness" && shots === 0) seeds = seeds.slice(0, 1);
	if (opts.resume === true && opts.checkpoint === undefined) throw new EvaluationError("Config", "resume needs a checkpoint file");
	return {
		mode,
		ensemble,
		shots,
		seeds,
		limit: opts.limit !== undefined ? positiveInt(opts.limit, "limit") : undefined,
		batch: opts.batch !== undefined ? positiveInt(opts.batch, "batch") : undefined,
		maxTokens: opts.maxTokens !== undefined ? positiveInt(opts.maxTokens, "maxTokens") : undefined,
		backendName: opts.backend ?? "tfjs",
	};
}

/**
 * What decides a run's results, for its checkpoint: a resumed run must match it exactly. Model files are named
 * with their sizes and modification times (not hashed: that would read gigabytes on every run).
 */
export async function runFingerprint(
	opts: EvaluateOptions,
	r: ResolvedOptions,
	tasks: TaskName[],
	dataFiles: DataFileReport[],
): Promise<Fingerprint> {
	return {
		version: VERSION,
		mode: r.mode,
		shots: r.shots,
		seeds: r.seeds,
		limit: r.limit ?? null,
		tasks,
		bos: opts.bos ?? null,
		translated: opts.translated ?? false,
		skip_bad: opts.skipBad ?? false,
		cop_base: opts.copBase ?? null,
		max_tokens: r.maxTokens ?? null,
		backend: r.backendName,
		device: opts.device ?? "auto",
		quant: opts.quant ?? null,
		ensemble: r.ensemble,
		data_files: dataFiles.map((f) => f.sha256),
		models: await Promise.all(opts.models.map(async (m) => ({ path: m, files: await modelFilesSignature(m) }))),
	};
}
