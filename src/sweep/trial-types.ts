import type { EvalReport } from "../eval/types.js";
import type { ReliabilityBin } from "../report/types.js";

/**
 * The evaluation settings of a trial: `merge eval`'s options under their library names, with paths
 * made absolute. `backend` and `quant` are passed through by name (see trial.ts for where a new
 * scoring backend plugs in).
 */
export interface TrialEval {
	data: string;
	tasks?: string[];
	mode?: "biomistral" | "harness";
	shots?: number;
	seeds?: number | number[];
	limit?: number;
	batch?: number;
	device?: "auto" | "cpu" | "wasm" | "gpu" | "node";
	streaming?: boolean;
	shotsFrom?: string;
	skipBad?: boolean;
	copBase?: 0 | 1;
	bos?: boolean;
	translated?: boolean;
	/** Scoring backend: "tfjs" (lm-merge's forward pass, default) or "llama" (llama.cpp on a GGUF conversion). */
	backend?: string;
	/** llama: the GGUF weight format the merge is scored in (f32 = exact, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k). */
	quant?: string;
}

/** Everything a worker needs to run one trial, on this machine or another (it travels as JSON). */
export interface TrialSpec {
	/** sha256 of the resolved recipe and the result-changing eval settings (see trial-key.ts). */
	key: string;
	/** The sweep's name, or null for rows written by `merge eval --store`. */
	sweep: string | null;
	/** The varied values: recipe path → value. */
	params: Record<string, unknown>;
	/** The trial's recipe: the base recipe with `params` put in and local model paths made absolute. */
	recipe: { text: string; file?: string };
	eval: TrialEval;
	merge: { threads?: number };
	/** The objective's name (objective.ts), so a worker returns the figure the sweep ranks by. */
	objective: string;
}

/** One task's figures in the store's `scores` column (percentages, as in the evaluation report). */
export interface TaskScore {
	n: number;
	acc: number;
	acc_std: number;
	acc_per_seed: number[];
	acc_letters: number;
	acc_norm?: number;
	ece: number;
	/** The bins behind the ECE: mean confidence and accuracy per confidence bin, over all seeds. */
	reliability: ReliabilityBin[];
}

/** What a finished trial returns (through the queue when a remote worker ran it). */
export interface TrialResult {
	key: string;
	scores: Record<string, TaskScore>;
	objective: number;
	/** Wall time of the whole trial, and of its merge and evaluation parts. */
	seconds: number;
	mergeSeconds: number;
	evalSeconds: number;
	worker: string;
	startedAt: string;
	finishedAt: string;
	/** The kept merged model (`keep`), else undefined (the temporary folder is deleted). */
	model?: string;
	/** The evaluation report without its per-item records (they are in the kept folder's eval.json). */
	report: EvalReport;
}
