import type { EvalReport, TaskName, TaskReport } from "../eval/types.js";

/**
 * The data a report page shows, whatever it was read from (a sweep's results store or `merge eval`
 * JSON reports): one row per model or trial, per-task scores, the swept parameters and any
 * quantized-variant comparison.
 */

/** One confidence bin of a reliability diagram: (lower, upper], its prompts, mean confidence and accuracy (0..1). */
export interface ReliabilityBin {
	lower: number;
	upper: number;
	count: number;
	confidence: number;
	accuracy: number;
}

/** One task's figures for one row (percentages, as in the evaluation report). */
export interface TaskScore {
	n: number;
	acc: number;
	acc_std: number;
	acc_per_seed: number[];
	acc_letters: number;
	acc_norm?: number;
	ece: number;
	/** The bins behind the ECE, over all seeds; empty when the report kept no per-item records. */
	reliability: ReliabilityBin[];
}

/** A row's scores, by task (tasks it was not scored on are absent). */
export type TaskScores = Partial<Record<TaskName, TaskScore>>;

/** A table row: a model, an ensemble or a sweep trial. */
export interface ReportRow {
	label: string;
	kind: "model" | "ensemble" | "trial";
	tasks: TaskScores;
	/** Trials: the varied values (recipe path → value). */
	params?: Record<string, unknown>;
	sweep?: string;
	status?: "queued" | "running" | "done" | "failed";
	objective?: number;
	seconds?: number;
	error?: string;
	/** Evaluation settings the row was scored with, e.g. "biomistral, 3-shot, seeds 0,1,2". */
	settings?: string;
	/** Scoring backend and quantization, when the report names them. */
	backend?: string;
	quant?: string;
}

/**
 * A quantized variant's results, as a report carries them under `quantized` (the llama backend's
 * reports; see docs/sweeps.md): the quantization type, optionally the backend, file size and speed,
 * and per-task results in the evaluation report's own shape.
 */
export interface QuantizedVariant {
	quant: string;
	backend?: string;
	bytes?: number;
	tokens_per_second?: number;
	seconds?: number;
	tasks: Partial<Record<TaskName, TaskReport>>;
}

/** One model's quantized variants next to its reference (unquantized) scores. */
export interface QuantizedComparison {
	model: string;
	reference: { label: string; tasks: TaskScores };
	variants: Array<{ label: string; tasks: TaskScores; bytes?: number; tokensPerSecond?: number; seconds?: number }>;
}

/** Everything renderHtml / renderReportMarkdown draw. */
export interface ReportData {
	title: string;
	rows: ReportRow[];
	/** Recipe paths varied across the trial rows, in first-seen order. */
	swept: string[];
	quantized: QuantizedComparison[];
	/** The files the data came from. */
	sources: string[];
	/** The objective trial rows are ranked by, when they come from a sweep. */
	objective?: string;
}

/** An evaluation report as `merge report` accepts it: today's EvalReport, plus the fields a backend may add. */
export type ReportInput = EvalReport & { backend?: string; quant?: string; quantized?: QuantizedVariant[] };
