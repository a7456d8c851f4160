import { stat } from "node:fs/promises";
import { dirname } from "node:path";
import { EvaluationError } from "../errors.js";
import { assertFinishedModel } from "../model/model-dir.js";
import { backendLoader } from "./backends/registry.js";
import type { ForwardBackend } from "./backends/types.js";
import { buildReport, type ModelRun } from "./build-report.js";
import { EvalCheckpoint } from "./checkpoint.js";
import { DEFAULT_SEEDS, DEFAULT_SHOTS, type EvaluateOptions, resolveOptions, runFingerprint } from "./evaluate-options.js";
import { letterTokenIds, OPTION_LETTERS } from "./letters.js";
import { modelName } from "./model-name.js";
import { BIOMISTRAL_HEADER, planPrompts } from "./prompt.js";
import { PromptTokens } from "./prompt-tokens.js";
import { PromptsFile } from "./prompts-file.js";
import { pump } from "./pump.js";
import { hashDataFiles } from "./run-meta.js";
import { scoreModel } from "./score-model.js";
import { loadTasks } from "./tasks/load-tasks.js";
import { loadTokenizer } from "./tokenizer.js";
import type { EvalEvent, EvalReport } from "./types.js";

export { DEFAULT_SEEDS, DEFAULT_SHOTS, type EvaluateOptions };

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
	const resolved = resolveOptions(opts);
	const { mode, ensemble, shots, seeds, limit, batch, maxTokens, backendName } = resolved;
	const loader = opts.loadModel ?? (await backendLoader(backendName));
	// An unfinished merge is refused before the data is read (its tokenizer files may not even be there yet).
	for (const m of opts.models) await assertFinishedModel((await stat(m).catch(() => undefined))?.isDirectory() === false ? dirname(m) : m);

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

	const settings = await runFingerprint(
		opts,
		resolved,
		tasks.map((t) => t.task),
		dataFiles,
	);
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
				if (model.endsWith(".gguf") && opts.tokenizer === undefined && err instanceof EvaluationError) {
					throw new EvaluationError(
						"Tokenizer",
						`${err.message}; scoring ${model} needs the source model's tokenizer.json: pass tokenizer (--tokenizer DIR)`,
					);
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
					{
						maxTokens: backend.maxTokens,
						source: maxTokens !== undefined ? "--max-tokens" : "the model's max_position_embeddings",
						skip: opts.skipBad ?? false,
					},
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
