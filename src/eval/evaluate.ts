import { EvalError } from "../errors.js";
import { assertFinishedModel } from "../model/model-dir.js";
import { loadEvalModel, type StreamingMode } from "./eval-model.js";
import { letterTokenIds, OPTION_LETTERS } from "./letters.js";
import { BIOMISTRAL_HEADER, harnessRequest, planPrompts, type HarnessPrompt, type PlannedPrompt } from "./prompt.js";
import { ensembleScored, summarizeTask, toItemReport, type ScoredPrompt } from "./report.js";
import { argmaxLetter, harnessPredictions, scoreLogits } from "./score.js";
import { loadTasks, type TaskData } from "./tasks/load-tasks.js";
import type { Device } from "./tfjs-backend.js";
import { loadTokenizer, type Tokenizer } from "./tokenizer.js";
import type { EvalEvent, EvalMode, EvalReport, ModelLoader, ScoringModel, TaskName, TaskReport } from "./types.js";

/** The paper's setting: 3 shots per prompt. */
export const DEFAULT_SHOTS = 3;

/** The paper's setting: 3 seeds (0, 1, 2), i.e. three different shot draws per item. */
export const DEFAULT_SEEDS = 3;

/**
 * Prompts handed to the model per call: each returns a full-vocabulary logits row (128 KB for a
 * 32k vocabulary), so 256 bounds that at 32 MB while keeping calls large enough to batch well.
 */
export const PROMPTS_PER_CALL = 256;

/** Options of evaluate() / evaluateIter(); see docs/evaluator.md for the protocol. */
export interface EvaluateOptions {
	/** Model folders (config.json, safetensors, tokenizer.json). Several need `ensemble: true`. */
	models: string[];
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
	device?: Device;
	streaming?: StreamingMode;
	ensemble?: boolean;
	shotsFrom?: string;
	skipBad?: boolean;
	copBase?: 0 | 1;
	/** Add BOS: default the tokenizer's add_bos_token in biomistral mode, false in harness mode. */
	bos?: boolean;
	/** BioInstructQA: read the `*_translated` fields. */
	translated?: boolean;
	/** Keep per-item records in the report (default true). */
	includeItems?: boolean;
	onProgress?(ev: EvalEvent): void;
	/** Replaces loadEvalModel (tests, custom backends). */
	loadModel?: ModelLoader;
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

/**
 * Runs `start` (which reports progress through its callback) and yields each new `done` count as it
 * arrives, returning start's result: model calls report progress via callbacks, the CLI wants events.
 */
async function* withProgress<T>(start: (onProgress: (done: number) => void) => Promise<T>): AsyncGenerator<number, T> {
	let latest = 0;
	let reported = 0;
	let finished = false;
	let wake: (() => void) | undefined;
	const outcome = start((done) => {
		latest = done;
		wake?.();
	}).finally(() => {
		finished = true;
		wake?.();
	});
	outcome.catch(() => {}); // rethrown below; avoids an unhandled rejection while we wait
	for (;;) {
		if (latest > reported) {
			reported = latest;
			yield latest;
			continue;
		}
		if (finished) break;
		await new Promise<void>((resolve) => (wake = resolve));
		wake = undefined;
	}
	return await outcome;
}

/** Scores the planned prompts with one model, yielding progress counts (offset by `base`). */
async function* scoreWithModel(
	model: ScoringModel,
	tok: Tokenizer,
	letterIds: Record<string, number[]>,
	plan: PlannedPrompt[],
	addBos: boolean,
	batch: number | undefined,
	base: number,
): AsyncGenerator<number, ScoredPrompt[]> {
	const sharedPrefix = tok.encode(BIOMISTRAL_HEADER, { addBos });
	const out: ScoredPrompt[] = [];
	for (let start = 0; start < plan.length; start += PROMPTS_PER_CALL) {
		const chunk = plan.slice(start, start + PROMPTS_PER_CALL);
		if (chunk[0]?.harness !== undefined) {
			const reqs = chunk.flatMap((p) => (p.harness?.choices ?? []).map((c) => harnessRequest(tok, p.prompt, ` ${c}`, addBos)));
			const perPrompt = reqs.length / chunk.length;
			const scores = yield* withProgress((cb) =>
				model.continuationLogprobs(reqs, {
					...(batch !== undefined ? { batchSize: batch } : {}),
					onProgress: (d) => cb(base + start + Math.min(chunk.length, Math.floor(d / perPrompt))),
				}),
			);
			let r = 0;
			for (const p of chunk) {
				const h = p.harness as HarnessPrompt;
				const lps = h.choices.map(() => scores[r++]?.logprob ?? -Infinity);
				const { pred, predNorm } = harnessPredictions(lps, h.choices);
				const letterProbs = Object.fromEntries(p.item.options.map((o, i) => [o.letter, Math.exp(lps[i] ?? -Infinity)]));
				const right = pred === h.goldIndex;
				const ids = reqs[r - h.choices.length]?.context ?? [];
				out.push({
					...p,
					promptIds: ids,
					letterProbs,
					top1Id: null,
					top1Text: null,
					correct: right,
					correctLetters: right,
					nonLetterTop1: false,
					correctNorm: predNorm === h.goldIndex,
				});
			}
		} else {
			const ids = chunk.map((p) => tok.encode(p.prompt, { addBos }));
			const logits = yield* withProgress((cb) =>
				model.lastLogits(ids, { sharedPrefix, ...(batch !== undefined ? { batchSize: batch } : {}), onProgress: (d) => cb(base + start + d) }),
			);
			chunk.forEach((p, i) => {
				const letters = p.item.options.map((o) => o.letter);
				const s = scoreLogits(logits[i] as Float32Array, letterIds, letters);
				const top1Text = tok.decode([s.top1Id]);
				out.push({
					...p,
					promptIds: ids[i] as number[],
					letterProbs: s.letterProbs,
					top1Id: s.top1Id,
					top1Text,
					correct: top1Text === p.item.gold,
					correctLetters: argmaxLetter(s.letterProbs, letters) === p.item.gold,
					nonLetterTop1: !letters.includes(top1Text),
				});
			});
		}
		yield base + start + chunk.length;
	}
	return out;
}

function summarizeAll(
	tasks: TaskData[],
	scored: ScoredPrompt[],
	seeds: number[],
	harness: boolean,
	probScale = 1,
): Partial<Record<TaskName, TaskReport>> {
	const out: Partial<Record<TaskName, TaskReport>> = {};
	for (const t of tasks) {
		out[t.task] = summarizeTask(scored.filter((s) => s.item.task === t.task), seeds, t.shotSource, { harness, probScale });
	}
	return out;
}

/**
 * Scores models on MCQA tasks, yielding progress events ("start", "model", "item" with done/total
 * prompts over all models, "warning"), and returns the report. Models run one after the other, so
 * only one is in memory at a time.
 */
export async function* evaluateIter(opts: EvaluateOptions): AsyncGenerator<EvalEvent, EvalReport> {
	const mode = opts.mode ?? "biomistral";
	if (opts.models.length === 0) throw new EvalError("Config", "no model to evaluate");
	const ensemble = opts.ensemble ?? false;
	if (ensemble && opts.models.length < 2) throw new EvalError("Config", "an ensemble needs at least two models");
	if (!ensemble && opts.models.length > 1) {
		throw new EvalError("Config", `${opts.models.length} models given: evaluate them one at a time, or pass ensemble: true`);
	}
	// An unfinished merge is refused before the data is read (its tokenizer files may not even be there yet).
	for (const dir of opts.models) await assertFinishedModel(dir);
	const shots = opts.shots ?? (mode === "harness" ? 0 : DEFAULT_SHOTS);
	if (!Number.isInteger(shots) || shots < 0) throw new EvalError("Config", `shots must be a non-negative integer, got ${shots}`);
	let seeds = resolveSeeds(opts.seeds);
	if (mode === "harness" && shots === 0) seeds = seeds.slice(0, 1);
	const limit = opts.limit !== undefined ? positiveInt(opts.limit, "limit") : undefined;
	const batch = opts.batch !== undefined ? positiveInt(opts.batch, "batch") : undefined;

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
	const total = plan.length * opts.models.length;
	yield { event: "start", total, tasks: tasks.map((t) => t.task), models: opts.models };

	const loader = opts.loadModel ?? loadEvalModel;
	const perModel: ScoredPrompt[][] = [];
	let letterMap: Record<string, number[]> = {};
	let bos = false;
	for (const [index, dir] of opts.models.entries()) {
		yield { event: "model", index, path: dir };
		const tok = await loadTokenizer(dir);
		const addBos = opts.bos ?? (mode === "harness" ? false : tok.addBosDefault);
		const letterIds = letterTokenIds(tok, OPTION_LETTERS);
		if (index === 0) {
			letterMap = letterIds;
			bos = addBos;
		}
		const model = await loader(dir, {
			...(opts.device !== undefined ? { device: opts.device } : {}),
			...(opts.streaming !== undefined ? { streaming: opts.streaming } : {}),
		});
		try {
			const run = scoreWithModel(model, tok, letterIds, plan, addBos, batch, index * plan.length);
			for (;;) {
				const step = await run.next();
				if (step.done === true) {
					perModel.push(step.value);
					break;
				}
				yield { event: "item", done: step.value, total };
			}
		} finally {
			await model.dispose();
		}
	}

	const harness = mode === "harness";
	const scored = ensemble ? ensembleScored(perModel) : (perModel[0] ?? []);
	const report: EvalReport = {
		mode,
		shots,
		seeds,
		models: opts.models,
		ensemble,
		bos,
		letter_token_ids: letterMap,
		tasks: summarizeAll(tasks, scored, seeds, harness && !ensemble, ensemble ? 1 / opts.models.length : 1),
		warnings,
		items: opts.includeItems === false ? [] : scored.map(toItemReport),
	};
	if (ensemble) report.members = opts.models.map((model, m) => ({ model, tasks: summarizeAll(tasks, perModel[m] ?? [], seeds, harness) }));
	return report;
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
