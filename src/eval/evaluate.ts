import { dirname } from "node:path";
import { EvalError } from "../errors.js";
import { backendLoader } from "./backends/registry.js";
import type { BackendLoader, BackendName, ForwardBackend, HardwareDevice, QuantType } from "./backends/types.js";
import { EvalCheckpoint } from "./checkpoint.js";
import { buildReport, type ModelRun } from "./build-report.js";
import { letterTokenIds, OPTION_LETTERS } from "./letters.js";
import { modelName } from "./model-name.js";
import { BIOMISTRAL_HEADER, planPrompts } from "./prompt.js";
import { PromptTokens } from "./prompt-tokens.js";
import { PromptsFile } from "./prompts-file.js";
import { pump } from "./pump.js";
import { hashDataFiles, modelFilesSignature } from "./run-meta.js";
import { scoreModel } from "./score-model.js";
import { loadTasks } from "./tasks/load-tasks.js";
import type { Device } from "./tfjs-backend.js";
import { loadTokenizer } from "./tokenizer.js";
import type { EvalEvent, EvalMode, EvalReport } from "./types.js";
import { VERSION } from "../version.js";

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
	onProgress?(ev: EvalEvent): void;
	/** Replaces the backend's loader (tests, custom backends). */
	loadModel?: BackendLoader;
}

function positiveInt(v: number, what: string): number {
	if (!Number.isInteger(v) || v < 1) throw new EvalError("Config", `${what} must be a positive integer, got ${v}`);
	return v;
}

function resolveSeeds(seeds: number | number[] | undefined): number[] {
	if (typeof seeds === "number" || seeds === undefined) {
		return Array.from({ length: positiveInt(seeds ?? DEFAULT_SEEDS, "seeds") }, (_, i) => i);
	}
	if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0) || new Set(seeds).size !== seeds.length) {
		throw new EvalError("Config", `seeds must be distinct non-negative integers, got [${seeds.join(", ")}]`);
	}
	return seeds;
}

/** The folder whose tokenizer.json scores `model` (a .gguf's own folder unless told otherwise). */
function tokenizerDir(model: string, override: string | undefined): string {
	if (override !== undefined) return override;
	return model.endsWith(".gguf") ? dirname(model) : model;
}

/**
 * Scores models on MCQA tasks, yielding progress events and returning the report. Models run one after the
 * other, so only one is in memory at a time. With `checkpoint`, every scored prompt is saved as it completes
 * and `resume` continues an interrupted run; with `signal`, an abort ends the run early with a partial report.
 */
export async function* evaluateIter(opts: EvaluateOptions): AsyncGenerator<EvalEvent, EvalReport> {
	const started = new Date();
	const t0 = performance.now();
	const mode = opts.mode ?? "biomistral";
	if (opts.models.length === 0) throw new EvalError("Config", "no model to evaluate");
	const ensemble = opts.ensemble ?? false;
	if (ensemble && opts.models.length < 2) throw new EvalError("Config", "an ensemble needs at least two models");
	if (!ensemble && opts.models.length > 1) {
		throw new EvalError("Config", `${opts.models.length} models given: evaluate them one at a time, or pass ensemble: true`);
	}
	if (opts.modelNames !== undefined && opts.modelNames.length !== opts.models.length) {
		throw new EvalError("Config", `${opts.modelNames.length} model names for ${opts.models.length} models`);
	}
	const shots = opts.shots ?? (mode === "harness" ? 0 : DEFAULT_SHOTS);
	if (!Number.isInteger(shots) || shots < 0) throw new EvalError("Config", `shots must be a non-negative integer, got ${shots}`);
	let seeds = resolveSeeds(opts.seeds);
	if (mode === "harness" && shots === 0) seeds = seeds.slice(0, 1);
	const limit = opts.limit !== undefined ? positiveInt(opts.limit, "limit") : undefined;
	const batch = opts.batch !== undefined ? positiveInt(opts.batch, "batch") : undefined;
	const maxTokens = opts.maxTokens !== undefined ? positiveInt(opts.maxTokens, "maxTokens") : undefined;
	const backendName = opts.backend ?? "tfjs";
	const loader = opts.loadModel ?? (await backendLoader(backendName));
	if (opts.resume === true && opts.checkpoint === undefined) throw new EvalError("Config", "resume needs a checkpoint file");

	const loaded = await loadTasks({
		data: opts.data,
		shots,
		skipBad: opts.skipBad ?? false,
		translated: opts.translated ?? false,
		...(opts.tasks !== undefined ? { tasks: opts.tasks } : {}),
		...(opts.shotsFrom !== undefined ? { shotsFrom: opts.shotsFrom } : {}),
		...(opts.copBase !== undefined ? { copBase: opts.copBase } : {}),
	});
	const warnings = [...loaded.warnings];
	const tasks = loaded.tasks.map((t) => (limit !== undefined ? { ...t, items: t.items.slice(0, limit) } : t));
	for (const t of tasks) {
		const given = t.items[0]?.fewShot?.[0]?.length;
		if (t.shotSource === "paper" && opts.shots !== undefined && given !== opts.shots) {
			warnings.push(`${t.task}: using the paper's ${given ?? 0} shots per prompt as given (shots=${opts.shots} ignored)`);
		}
	}
	for (const message of warnings) yield { event: "warning", message };
	const plan = planPrompts(tasks, seeds, shots, mode);
	const dataFiles = await hashDataFiles(loaded.files);
	const names = opts.modelNames ?? opts.models.map(modelName);

	const settings = {
		version: VERSION,
		mode,
		shots,
		seeds,
		limit: limit ?? null,
		tasks: tasks.map((t) => t.task),
		bos: opts.bos ?? null,
		translated: opts.translated ?? false,
		skip_bad: opts.skipBad ?? false,
		cop_base: opts.copBase ?? null,
		max_tokens: maxTokens ?? null,
		backend: backendName,
		device: opts.device ?? "auto",
		quant: opts.quant ?? null,
		ensemble,
		data_files: dataFiles.map((f) => f.sha256),
		models: await Promise.all(opts.models.map(async (m) => ({ path: m, files: await modelFilesSignature(m) }))),
	};
	const checkpoint = opts.checkpoint !== undefined ? EvalCheckpoint.open(opts.checkpoint, settings, opts.resume === true) : undefined;
	try {
		let total = plan.length * opts.models.length;
		yield { event: "start", total, tasks: tasks.map((t) => t.task), models: opts.models, resumed: checkpoint?.done.size ?? 0 };

		const runs: ModelRun[] = [];
		let done = 0;
		let tokensRun = 0;
		let scoreSeconds = 0;
		for (const [index, model] of opts.models.entries()) {
			if (opts.signal?.aborted === true) break;
			const tok = await loadTokenizer(tokenizerDir(model, opts.tokenizer)).catch((err: unknown) => {
				// A .gguf rarely sits beside its tokenizer.json: say how to point at it.
				if (model.endsWith(".gguf") && opts.tokenizer === undefined && err instanceof EvalError) {
					throw new EvalError("Tokenizer", `${err.message}; scoring ${model} needs the source model's tokenizer.json: pass tokenizer (--tokenizer DIR)`);
				}
				throw err;
			});
			const addBos = opts.bos ?? (mode === "harness" ? false : tok.addBosDefault);
			const letterIds = letterTokenIds(tok, OPTION_LETTERS);
			const loadStart = performance.now();
			// Loading can take minutes (a GGUF conversion): its notes are passed on as they come.
			const backend: ForwardBackend = yield* pump<EvalEvent, ForwardBackend>((emit) =>
				loader(model, {
				...(opts.device !== undefined ? { device: opts.device } : {}),
				...(opts.quant !== undefined ? { quant: opts.quant } : {}),
				...(opts.threads !== undefined ? { threads: opts.threads } : {}),
				...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
				...(maxTokens !== undefined ? { maxTokens } : {}),
				...(batch !== undefined ? { batch } : {}),
				...(opts.tfjsDevice !== undefined ? { tfjsDevice: opts.tfjsDevice } : {}),
				...(opts.streaming !== undefined ? { streaming: opts.streaming } : {}),
				...(opts.signal !== undefined ? { signal: opts.signal } : {}),
				onNote: (message) => emit({ event: "note", message }),
			}),
			);
			const run: ModelRun = {
				model,
				name: names[index] ?? modelName(model),
				info: backend.info,
				letterIds,
				addBos,
				scored: [],
				maxTokens: backend.maxTokens,
				loadSeconds: 0,
				scoreSeconds: 0,
				tokens: 0,
			};
			runs.push(run);
			try {
				run.loadSeconds = (performance.now() - loadStart) / 1000;
				yield { event: "model", index, path: model, name: run.name, backend: backend.info.detail };
				const prompts = opts.savePrompts !== undefined && index === 0 ? new PromptsFile(opts.savePrompts) : undefined;
				const promptTokens = new PromptTokens(
					tok,
					plan,
					addBos,
					{ maxTokens: backend.maxTokens, source: maxTokens !== undefined ? "--max-tokens" : "the model's max_position_embeddings", skip: opts.skipBad ?? false },
					prompts !== undefined ? (i, p, t) => prompts.add(i, p, t) : undefined,
				);
				prompts?.finish();
				for (const message of promptTokens.warnings) {
					if (index === 0) warnings.push(message);
					yield { event: "warning", message };
				}
				total -= promptTokens.skipped.size;
				const perModelTokens = promptTokens.totalTokens;
				let tokensLeft = perModelTokens * (opts.models.length - index);
				const scoreStart = performance.now();
				for await (const ev of scoreModel({
					backend,
					tok,
					letterIds,
					plan,
					tokens: promptTokens,
					model: index,
					sharedPrefix: tok.encode(BIOMISTRAL_HEADER, { addBos }),
					...(checkpoint !== undefined ? { checkpoint } : {}),
					...(opts.signal !== undefined ? { signal: opts.signal } : {}),
				})) {
					run.scored.push(ev.scored);
					done++;
					tokensLeft -= ev.scored.tokens;
					if (ev.fresh) {
						tokensRun += ev.scored.tokens;
						run.tokens += ev.scored.tokens;
					}
					const seconds = scoreSeconds + (performance.now() - scoreStart) / 1000;
					yield { event: "item", done, total, tokens: tokensRun, tokensLeft: Math.max(0, tokensLeft), seconds };
				}
				run.scoreSeconds = (performance.now() - scoreStart) / 1000;
				scoreSeconds += run.scoreSeconds;
				run.skipped = promptTokens.skipped.size;
			} finally {
				await backend.dispose();
			}
		}
		return buildReport({
			mode,
			shots,
			seeds,
			ensemble,
			tasks,
			planSize: plan.length,
			models: opts.models,
			runs,
			warnings,
			dataFiles,
			maxTokens: maxTokens ?? Math.min(Number.MAX_SAFE_INTEGER, ...runs.map((r) => r.maxTokens ?? Number.MAX_SAFE_INTEGER)),
			started,
			seconds: (performance.now() - t0) / 1000,
			includeItems: opts.includeItems !== false,
		});
	} finally {
		checkpoint?.close();
	}
}

/** Drains evaluateIter(), passing each event to `opts.onProgress`, and returns the report. */
export async function evaluate(opts: EvaluateOptions): Promise<EvalReport> {
	const it = evaluateIter(opts);
	for (;;) {
		const step = await it.next();
		if (step.done === true) return step.value;
		opts.onProgress?.(step.value);
	}
}
