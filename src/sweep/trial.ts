import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { EvaluationError, ExecError } from "../errors.js";
import { type HardwareDevice, isQuantType, QUANT_TYPES } from "../eval/backends/types.js";
import { type EvaluateOptions, evaluateIter } from "../eval/evaluate.js";
import type { EvalReport } from "../eval/types.js";
import { mergeModelsIter } from "../exec/merge-models.js";
import { parseRecipe } from "../recipe/load.js";
import { taskScores } from "../report/scores.js";
import type { TrialEvent } from "./events.js";
import { parseObjective } from "./objective.js";
import type { TrialEval, TrialResult, TrialSpec } from "./trial-types.js";

/** Scoring backends a trial can use: lm-merge's tfjs forward pass, or llama.cpp (the merge is converted to GGUF). */
const TRIAL_BACKENDS = ["tfjs", "llama"] as const;

/** `device` of a sweep's eval block on llama.cpp: the hardware; wasm and node name tfjs engines. */
const LLAMA_DEVICES: Readonly<Record<string, HardwareDevice>> = { auto: "auto", cpu: "cpu", gpu: "cuda" };

/** Refuses eval settings no trial could run with here, before any merge starts. */
export function checkTrialEval(e: TrialEval): void {
	const backend = e.backend ?? "tfjs";
	if (!(TRIAL_BACKENDS as readonly string[]).includes(backend)) {
		throw new EvaluationError(
			"Config",
			`eval backend ${backend} is not available in this lm-merge (backends: ${TRIAL_BACKENDS.join(", ")})`,
		);
	}
	if (e.quant !== undefined && backend === "tfjs") {
		throw new EvaluationError(
			"Config",
			`eval quant ${e.quant} needs backend: llama; the tfjs backend scores the merged weights as they are`,
		);
	}
	if (e.quant !== undefined && !isQuantType(e.quant)) {
		throw new EvaluationError("Config", `eval quant ${e.quant}: expected one of ${QUANT_TYPES.join(", ")}`);
	}
	if (backend === "llama" && e.device !== undefined && LLAMA_DEVICES[e.device] === undefined) {
		throw new EvaluationError("Config", `eval device ${e.device} is a tfjs engine; with backend: llama use auto, cpu or gpu`);
	}
}

/**
 * The evaluator's options for a trial's settings (checked by checkTrialEval()). On llama.cpp the merge is converted
 * to GGUF in `ggufCacheDir` (the trial's own folder, removed with it).
 */
export function toEvaluateOptions(e: TrialEval, model: string, ggufCacheDir?: string): EvaluateOptions {
	const opts: EvaluateOptions = { models: [model], data: e.data, includeItems: true };
	if (e.tasks !== undefined) opts.tasks = e.tasks;
	if (e.mode !== undefined) opts.mode = e.mode;
	if (e.shots !== undefined) opts.shots = e.shots;
	if (e.seeds !== undefined) opts.seeds = e.seeds;
	if (e.limit !== undefined) opts.limit = e.limit;
	if (e.batch !== undefined) opts.batch = e.batch;
	if (e.streaming !== undefined) opts.streaming = e.streaming;
	if (e.shotsFrom !== undefined) opts.shotsFrom = e.shotsFrom;
	if (e.skipBad !== undefined) opts.skipBad = e.skipBad;
	if (e.copBase !== undefined) opts.copBase = e.copBase;
	if (e.bos !== undefined) opts.bos = e.bos;
	if (e.translated !== undefined) opts.translated = e.translated;
	if (e.backend === "llama") {
		opts.backend = "llama";
		if (e.device !== undefined && LLAMA_DEVICES[e.device] !== undefined) opts.device = LLAMA_DEVICES[e.device]!;
		if (e.quant !== undefined && isQuantType(e.quant)) opts.quant = e.quant;
		if (ggufCacheDir !== undefined) opts.cacheDir = ggufCacheDir;
	} else if (e.device !== undefined) {
		opts.tfjsDevice = e.device;
	}
	return opts;
}

/** Where and how a trial runs. */
interface TrialRunOptions {
	/** This process's name in the store (worker-id.ts). */
	worker: string;
	/** Parent folder of temporary merges (default the OS temp folder). */
	workDir?: string;
	/** Keep the merged model and its full eval.json in `<keepDir>/<key prefix>` instead of deleting it. */
	keepDir?: string;
	/** Stops the merge between tensors and the evaluation between prompt batches. */
	signal?: AbortSignal;
	onEvent?(e: TrialEvent): void;
}

function interrupted(): ExecError {
	return new ExecError("Interrupted", "trial interrupted");
}

/** Merges the trial's recipe into `dir` and scores it: the one place that knows how a trial is computed. */
async function mergeAndScore(
	t: TrialSpec,
	dir: string,
	opts: TrialRunOptions,
): Promise<{ report: EvalReport; mergeSeconds: number; evalSeconds: number }> {
	const emit = (e: TrialEvent) => opts.onEvent?.(e);
	checkTrialEval(t.eval);
	const t0 = performance.now();
	emit({ event: "phase", key: t.key, phase: "merge" });
	const merge = mergeModelsIter(parseRecipe(t.recipe.text, t.recipe.file), {
		out: dir,
		...(t.merge.threads !== undefined ? { threads: t.merge.threads } : {}),
		...(opts.signal !== undefined ? { signal: opts.signal } : {}),
	});
	for (;;) {
		const step = await merge.next();
		if (step.done === true) break;
		const e = step.value;
		if (e.event === "tensor") emit({ event: "progress", key: t.key, phase: "merge", done: e.index + 1, total: e.total });
		else if (e.event === "warning") emit({ event: "warning", key: t.key, message: e.message });
	}
	const t1 = performance.now();
	emit({ event: "phase", key: t.key, phase: "eval" });
	const evaluation = evaluateIter(toEvaluateOptions(t.eval, dir, path.join(path.dirname(dir), "gguf")));
	let report: EvalReport;
	try {
		for (;;) {
			if (opts.signal?.aborted === true) throw interrupted();
			const step = await evaluation.next();
			if (step.done === true) {
				report = step.value;
				break;
			}
			const e = step.value;
			if (e.event === "item") emit({ event: "progress", key: t.key, phase: "eval", done: e.done, total: e.total });
			else if (e.event === "warning") emit({ event: "warning", key: t.key, message: e.message });
		}
	} finally {
		await evaluation.return(undefined as never); // disposes the model when stopped early
	}
	return { report, mergeSeconds: (t1 - t0) / 1000, evalSeconds: (performance.now() - t1) / 1000 };
}

/**
 * Runs one trial: merge into a temporary folder (or a kept one), score, and return per-task scores and
 * the objective. The temporary folder is removed whatever happens; a kept one is removed on failure.
 */
export async function runTrial(t: TrialSpec, opts: TrialRunOptions): Promise<TrialResult> {
	const startedAt = new Date().toISOString();
	const t0 = performance.now();
	const objective = parseObjective(t.objective);
	const short = t.key.slice(0, 12);
	let root: string;
	if (opts.keepDir !== undefined) {
		root = path.join(opts.keepDir, short);
		await rm(root, { recursive: true, force: true }); // a half-written folder of an interrupted run
		await mkdir(root, { recursive: true });
	} else {
		const parent = opts.workDir ?? os.tmpdir();
		await mkdir(parent, { recursive: true });
		root = await mkdtemp(path.join(parent, `lm-merge-trial-${os.hostname()}-${process.pid}-${short}-`));
	}
	const model = path.join(root, "model");
	let ok = false;
	try {
		const { report, mergeSeconds, evalSeconds } = await mergeAndScore(t, model, opts);
		const scores = taskScores(report) as Record<string, TrialResult["scores"][string]>;
		if (opts.keepDir !== undefined) await writeFile(path.join(root, "eval.json"), `${JSON.stringify(report, null, 2)}\n`);
		ok = true;
		return {
			key: t.key,
			scores,
			objective: objective.of(scores),
			seconds: (performance.now() - t0) / 1000,
			mergeSeconds,
			evalSeconds,
			worker: opts.worker,
			startedAt,
			finishedAt: new Date().toISOString(),
			...(opts.keepDir !== undefined ? { model } : {}),
			report: { ...report, items: [] },
		};
	} finally {
		if (opts.keepDir === undefined || !ok) await rm(root, { recursive: true, force: true });
	}
}
