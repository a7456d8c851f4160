import { VERSION } from "../version.js";
import type { BackendInfo } from "./backends/types.js";
import { ensembleScored, type ScoredPrompt, summarizeTask, toItemReport } from "./report.js";
import type { TaskData } from "./tasks/load-tasks.js";
import type { DataFileReport, EvalMode, EvalReport, RunReport, TaskName, TaskReport } from "./types.js";

/** One model's part of a run, as evaluateIter collects it. */
export interface ModelRun {
	model: string;
	name: string;
	info: BackendInfo;
	letterIds: Record<string, number[]>;
	addBos: boolean;
	/** Scored prompts, in the order they completed. */
	scored: ScoredPrompt[];
	/** Prompts skipped as too long. */
	skipped?: number;
	/** The longest prompt the backend accepted. */
	maxTokens?: number;
	loadSeconds: number;
	scoreSeconds: number;
	/** Prompt tokens run through the model by this process. */
	tokens: number;
}

export interface ReportInput {
	mode: EvalMode;
	shots: number;
	seeds: number[];
	ensemble: boolean;
	tasks: TaskData[];
	/** Prompts per model in the plan. */
	planSize: number;
	models: string[];
	runs: ModelRun[];
	warnings: string[];
	dataFiles: DataFileReport[];
	maxTokens: number;
	started: Date;
	seconds: number;
	includeItems: boolean;
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
		const mine = scored.filter((s) => s.item.task === t.task);
		// A partial run leaves later tasks unscored: they are absent rather than reported as 0 %.
		if (mine.length > 0) out[t.task] = summarizeTask(mine, seeds, t.shotSource, { harness, probScale });
	}
	return out;
}

function runReport(r: ModelRun): RunReport {
	return {
		model: r.model,
		name: r.name,
		backend: r.info.backend,
		device: r.info.device,
		detail: r.info.detail,
		quant: r.info.quant,
		weights: r.info.weights,
		weight_bytes: r.info.weightBytes,
		timings: {
			load_seconds: r.loadSeconds,
			score_seconds: r.scoreSeconds,
			prompts: r.scored.length,
			tokens: r.tokens,
			tokens_per_second: r.scoreSeconds > 0 ? r.tokens / r.scoreSeconds : 0,
		},
	};
}

/**
 * The JSON report of a run (complete or interrupted). Scored prompts are put back in plan order, so the
 * report does not depend on the order results arrived in, nor on whether the run was resumed. An interrupted
 * ensemble is reported over the prompts every member scored.
 */
export function buildReport(input: ReportInput): EvalReport {
	const { runs, seeds, tasks, ensemble } = input;
	const harness = input.mode === "harness";
	const perModel = runs.map((r) => [...r.scored].sort((a, b) => a.index - b.index));
	const skipped = runs[0]?.skipped ?? 0;
	const expected = input.planSize - skipped;
	const complete = runs.length === input.models.length && perModel.every((l) => l.length === expected);
	let lists = perModel;
	if (!complete && ensemble) {
		const common = perModel.map((l) => new Set(l.map((s) => s.index))).reduce((a, b) => new Set(Array.from(a).filter((i) => b.has(i))));
		lists = perModel.map((l) => l.filter((s) => common.has(s.index)));
	}
	const scored = ensemble ? (lists.length === input.models.length ? ensembleScored(lists) : []) : (lists[0] ?? []);
	const first = runs[0];
	const tokens = runs.reduce((a, r) => a + r.tokens, 0);
	const scoreSeconds = runs.reduce((a, r) => a + r.scoreSeconds, 0);
	const report: EvalReport = {
		version: VERSION,
		partial: !complete,
		progress: { scored: perModel.reduce((a, l) => a + l.length, 0), total: expected * input.models.length, skipped },
		mode: input.mode,
		shots: input.shots,
		seeds,
		models: input.models,
		model_names: input.models.map((m, i) => runs[i]?.name ?? m),
		ensemble,
		bos: first?.addBos ?? false,
		backend: first?.info.backend ?? "",
		device: first?.info.device ?? "",
		quant: first?.info.quant ?? "",
		max_tokens: input.maxTokens,
		letter_token_ids: first?.letterIds ?? {},
		data_files: input.dataFiles,
		runs: runs.map(runReport),
		timings: {
			started: input.started.toISOString(),
			seconds: input.seconds,
			tokens_per_second: scoreSeconds > 0 ? tokens / scoreSeconds : 0,
		},
		tasks: summarizeAll(tasks, scored, seeds, harness && !ensemble, ensemble ? 1 / input.models.length : 1),
		warnings: input.warnings,
		items: input.includeItems ? scored.map(toItemReport) : [],
	};
	if (ensemble) {
		report.members = input.models.map((model, m) => ({
			model,
			name: report.model_names[m] ?? model,
			tasks: summarizeAll(tasks, lists[m] ?? [], seeds, harness),
		}));
	}
	return report;
}
