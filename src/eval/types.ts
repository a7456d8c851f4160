/**
 * Shapes shared by the evaluator's protocol code: multiple-choice items, the model interface the
 * scorer needs, progress events and the JSON report (snake_case keys, as spec/evaluator.md fixes them).
 */

/** The ten English tasks of the BioMistral benchmark (BioInstructQA). */
export type TaskName =
	| "mmlu_clinical_knowledge"
	| "mmlu_medical_genetics"
	| "mmlu_anatomy"
	| "mmlu_professional_medicine"
	| "mmlu_college_biology"
	| "mmlu_college_medicine"
	| "medqa"
	| "medqa_5options"
	| "pubmedqa"
	| "medmcqa";

/** One answer option: its letter ("A"…) and text. */
export interface McqaOption {
	letter: string;
	text: string;
}

/** One multiple-choice question, whatever file format it came from. */
export interface McqaItem {
	task: TaskName;
	/** The record's own id (`id`, `identifier`, PubMedQA PMID), else its 0-based record index, as a string. */
	id: string;
	question: string;
	options: McqaOption[];
	/** The gold letter; always one of `options[].letter`. */
	gold: string;
	/** A passage shown before the question (PubMedQA abstract); absent for most tasks. */
	context?: string;
	/** The context's paragraphs when the source keeps them apart (the harness joins them with "\n"). */
	contextParts?: string[];
	/** The paper's precomputed shots (BioInstructQA `few_shot_samples[1..3]`): one list per seed. */
	fewShot?: McqaItem[][];
	/** Where the record was read: file and 1-based line of its first character. */
	source: { file: string; line: number };
}

/** Scoring protocol: the BioMistral paper's next-token letters, or lm-evaluation-harness log-likelihoods. */
export type EvalMode = "biomistral" | "harness";

/** Where a task's shots came from: BioInstructQA's own draws, our seeded draws, or none (zero-shot). */
export type ShotSource = "paper" | "template" | "none";

/** Progress events from evaluateIter(); the CLI renders them (prompts, tokens/s, ETA). */
export type EvalEvent =
	| {
			event: "start";
			/** Prompts to score over all models, those skipped as too long excluded. */
			total: number;
			tasks: TaskName[];
			models: string[];
			/** Prompts already scored by an interrupted run (read back from the checkpoint). */
			resumed: number;
	  }
	| { event: "model"; index: number; path: string; name: string; backend?: string }
	| {
			event: "item";
			/** Prompts scored so far over all models, resumed ones included. */
			done: number;
			total: number;
			/** Prompt tokens run through the model in this process, and still to run (all models). */
			tokens: number;
			tokensLeft: number;
			/** Seconds spent scoring in this process (model loading excluded). */
			seconds: number;
	  }
	| { event: "note"; message: string }
	| { event: "warning"; message: string };

/** Mean and population standard deviation over seeds, plus the per-seed values (percent). */
export interface SeedStat {
	mean: number;
	std: number;
	per_seed: number[];
}

/** Per-task results in the JSON report. */
export interface TaskReport {
	n: number;
	acc: SeedStat;
	acc_letters: SeedStat;
	/** Fraction (0..1) of scored prompts whose top-1 token is not one of the item's letters. */
	non_letter_top1: number;
	/** 5-bin ECE in percent, mean over seeds. */
	ece: number;
	ece_per_seed: number[];
	/** Harness mode only: length-normalised accuracy. */
	acc_norm?: SeedStat;
	shot_source: ShotSource;
}

/** One scored prompt in the JSON report. */
export interface ItemReport {
	task: TaskName;
	id: string;
	seed: number;
	gold: string;
	shot_ids: string[];
	/** Prompt length in tokens (the texts and ids go to the --save-prompts file, not the report). */
	tokens: number;
	/** Biomistral: next-token letter probabilities (not renormalised). Harness: exp(log-likelihood) per choice. */
	letter_probs: Record<string, number>;
	top1_id: number | null;
	top1_text: string | null;
	correct: boolean;
	correct_letters: boolean;
}

/** One model's run: what scored it and how fast. */
export interface RunReport {
	model: string;
	/** The repo id or folder name the tables show. */
	name: string;
	backend: string;
	device: string;
	/** Implementation details: "tfjs wasm (SIMD, 1 thread)", "llama.cpp, 2 threads, F32 KV cache". */
	detail: string;
	quant: string;
	/** The weights actually scored (a GGUF file for the llama backend) and their size on disk. */
	weights: string;
	weight_bytes: number;
	/** Volatile figures of this process (a resumed run counts only its own prompts). */
	timings: { load_seconds: number; score_seconds: number; prompts: number; tokens: number; tokens_per_second: number };
}

/** A data file the run read, by content. */
export interface DataFileReport {
	path: string;
	sha256: string;
	bytes: number;
}

/** The whole JSON report (`--json FILE`). */
export interface EvalReport {
	/** lm-merge's version. */
	version: string;
	/** True when the run was interrupted: only `progress.scored` of `progress.total` prompts are in it. */
	partial: boolean;
	progress: { scored: number; total: number; skipped: number };
	mode: EvalMode;
	shots: number;
	seeds: number[];
	models: string[];
	/** Repo ids (Hugging Face cache) or folder names, in `models` order. */
	model_names: string[];
	ensemble: boolean;
	bos: boolean;
	/** Backend, device and weight format of the (first) model's run; `runs` has each model's. */
	backend: string;
	device: string;
	quant: string;
	/** The longest prompt accepted, in tokens. */
	max_tokens: number;
	letter_token_ids: Record<string, number[]>;
	data_files: DataFileReport[];
	runs: RunReport[];
	/** Volatile: wall-clock of this process; the only part of a resumed run's report that differs from an uninterrupted one. */
	timings: { started: string; seconds: number; tokens_per_second: number };
	tasks: Partial<Record<TaskName, TaskReport>>;
	/** For an ensemble: each member's own results, in model order. */
	members?: { model: string; name?: string; tasks: Partial<Record<TaskName, TaskReport>> }[];
	/** Set when several weight formats were compared: letter-probability deviation from the exact (f32) run. */
	deviation_from_exact?: LetterDeviation;
	warnings: string[];
	items: ItemReport[];
}

/** How one variant's letter probabilities differ from the reference run's, prompt by prompt. */
export interface LetterDeviation {
	/** Prompts scored by both runs. */
	prompts: number;
	/** Largest |p_variant − p_reference| over every letter of every common prompt. */
	max_abs: number;
	/** Mean of |p_variant − p_reference| over every letter of every common prompt. */
	mean_abs: number;
	/** Fraction of common prompts whose most likely letter is the same in both runs. */
	same_argmax: number;
}
