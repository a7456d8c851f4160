import path from "node:path";
import type { EvaluateOptions } from "../eval/evaluate.js";
import type { EvalReport } from "../eval/types.js";
import { taskScores } from "../report/scores.js";
import { parseObjective } from "./objective.js";
import { ResultsStore } from "./store.js";
import { resultKey } from "./trial-key.js";
import type { TrialEval } from "./trial-types.js";

/** The result-relevant settings of an evaluate() call, in a trial's terms (absolute paths). */
function trialEvalOf(o: Omit<EvaluateOptions, "models">): TrialEval {
	const e: TrialEval = { data: path.resolve(o.data) };
	if (o.tasks !== undefined) e.tasks = o.tasks;
	if (o.mode !== undefined) e.mode = o.mode;
	if (o.shots !== undefined) e.shots = o.shots;
	if (o.seeds !== undefined) e.seeds = o.seeds;
	if (o.limit !== undefined) e.limit = o.limit;
	if (o.shotsFrom !== undefined) e.shotsFrom = path.resolve(o.shotsFrom);
	if (o.skipBad !== undefined) e.skipBad = o.skipBad;
	if (o.copBase !== undefined) e.copBase = o.copBase;
	if (o.bos !== undefined) e.bos = o.bos;
	if (o.translated !== undefined) e.translated = o.translated;
	const extra = o as { backend?: string; quant?: string };
	if (extra.backend !== undefined) e.backend = extra.backend;
	if (extra.quant !== undefined) e.quant = extra.quant;
	return e;
}

/**
 * Appends a `merge eval` result to a results store, so single evaluations and sweeps share one table:
 * a done row with no sweep, keyed by the evaluated model folder(s) and the eval settings (evaluating the
 * same model with the same settings again replaces the row). Returns the row's key.
 */
export function recordEvaluation(
	storeFile: string,
	report: EvalReport,
	settings: Omit<EvaluateOptions, "models">,
	timing: { seconds: number; startedAt: string; finishedAt: string; worker: string },
): string {
	const models = report.models.map((m) => path.resolve(m));
	const e = trialEvalOf(settings);
	const key = resultKey({ models, ensemble: report.ensemble }, e);
	const objective = parseObjective("mean_accuracy");
	const scores = taskScores(report) as Record<string, NonNullable<ReturnType<typeof taskScores>[keyof ReturnType<typeof taskScores>]>>;
	const store = ResultsStore.open(storeFile);
	try {
		store.recordEvaluation(
			{
				key,
				params: report.ensemble ? { models, ensemble: true } : { model: models[0] },
				eval: e as unknown as Record<string, unknown>,
				model: models.join(", "),
			},
			{
				scores,
				objective: objective.of(scores),
				seconds: timing.seconds,
				evalSeconds: timing.seconds,
				worker: timing.worker,
				startedAt: timing.startedAt,
				finishedAt: timing.finishedAt,
				report: { ...report, items: [] },
			},
			objective.name,
		);
	} finally {
		store.close();
	}
	return key;
}
