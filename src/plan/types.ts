import type { ResolvedArchitecture } from "../arch/resolve.js";
import type { Dtype, FloatDtype } from "../io/dtypes.js";
import type { MergeMethod } from "../methods/types.js";
import type { ModelSource } from "../model/model-source.js";
import type { Recipe } from "../recipe/schema.js";

/** One input model of a plan: the reference as written, where it resolved, and its open tensor source. */
export interface PlannedModel {
	/** The reference as the recipe wrote it (e.g. "mistralai/Mistral-7B-Instruct-v0.1"). */
	ref: string;
	/** The resolved folder or file. */
	path: string;
	/** How the reference was resolved ("path", "alias", "hf-cache"). */
	via: string;
	/** The LoRA adapter folder applied to the model (`model+adapter` references). */
	adapter?: string;
	source: ModelSource;
	/** Its architecture: the family definition config.json selects, checked against its tensor names (or inferred). */
	arch: ResolvedArchitecture;
}

/** Where one input of a job comes from. */
export interface JobInput {
	/** Index into MergePlan.models. */
	model: number;
	/** The tensor's name inside that model (layer index of the source slice, tied names resolved). */
	tensor: string;
}

/** A resolved parameter value and the recipe location it came from ("default" when the method default applied). */
export interface ResolvedParam {
	value: number | boolean | string | undefined;
	from: string;
}

/** Everything needed to produce one output tensor. */
export interface TensorJob {
	output: { name: string; dtype: Dtype; shape: number[]; byteLength: number };
	method: MergeMethod;
	base: JobInput | undefined;
	/** The non-base inputs, in recipe order. */
	inputs: JobInput[];
	/** Global parameters, resolved for this tensor (defaults filled). */
	params: Record<string, number | boolean | string | undefined>;
	/** Per-model parameters aligned with `inputs`. */
	modelParams: Record<string, number | boolean | string | undefined>[];
	/** The layer-gradient position used for this tensor (0 for non-layer tensors). */
	t: number;
	/** Where each parameter came from, for `merge plan` (name → from), global and per input. */
	sources: { params: Record<string, string>; modelParams: Record<string, string>[] };
	/** Sum of the inputs' encoded sizes in bytes (what a whole-tensor job reads; a streamed job holds a few chunks of it). */
	inputBytes: number;
	/** Embedding truncated to a common sub-matrix (opt-in): read only [rows, cols] of every input. */
	truncate?: { rows: number; cols: number };
	/**
	 * Vocabulary-sized tensor whose rows are rebuilt to the output vocabulary (a tokenizer source): for each input
	 * (base first, when the job has one) the source row of every output row, or ROW_DEFAULT / ROW_MEAN (vocab/row-plan.ts),
	 * and the rows averaged into each default row (none: zeros).
	 */
	vocab?: JobVocab;
	/** Not a float tensor: copied byte for byte from the base (or first) input. */
	copyRaw?: boolean;
	/** `compat: mergekit`: the dtype mergekit computes this tensor in (plan/compat.ts). */
	compat?: { dtype: "BF16" | "F16" | "F32" };
}

/** What the output vocabulary is, when a tokenizer source rebuilt it. */
interface VocabSummary {
	mode: "union" | "base" | "model";
	/** Output embedding rows (padding included). */
	rows: number;
	/** Tokens of the output tokenizer. */
	tokens: number;
	/** Tokens the output has that the tokenizer donor had not. */
	added: string[];
	/** Replacement tokenizer files (undefined: the donor's are copied as they are). */
	files: Map<string, string> | undefined;
	/** Donor tokenizer files left out (they describe another vocabulary). */
	omit: string[];
}

/** How a vocabulary-sized job rebuilds its inputs' rows (see TensorJob.vocab). */
export interface JobVocab {
	rows: number;
	maps: Int32Array[];
	defaults: Array<{ row: number; from: Array<{ model: number; tensor: string; row: number }> }>;
}

/**
 * A validated merge, ready to run: the models opened (headers only), one job per output tensor with its parameters
 * resolved, the output dtype, config and memory estimate, and the warnings found while planning. Close it with
 * {@link closePlan} when done with it (running it does not close it).
 */
export interface MergePlan {
	recipe: Recipe;
	method: MergeMethod;
	models: PlannedModel[];
	/** Index into models of the base model (undefined for methods without base). */
	baseModel: number | undefined;
	/** Index of the model that donates config.json and the tokenizer. */
	donor: number;
	/** Folder whose tokenizer files are copied (the tokenizer_source, else the donor). */
	tokenizerDir: string | undefined;
	/** The output vocabulary when the recipe sets a tokenizer source (union, base, a model): rows, files, warnings. */
	vocab?: VocabSummary;
	jobs: TensorJob[];
	/** Output dtype when the recipe or options fix one (else each tensor keeps its donor's dtype). */
	outDtype: FloatDtype | undefined;
	numLayers: number | undefined;
	/** config.json for the output (patched torch_dtype, num_hidden_layers, vocab_size), or undefined. */
	config: Record<string, unknown> | undefined;
	seed: number;
	totalBytes: number;
	/** Estimated peak resident memory of the executor, in bytes. */
	peakMemoryEstimate: number;
	/** The arithmetic: "float32" (float32 math, one rounding) or "mergekit" (mergekit's, op by op in the recipe dtype). */
	compat?: "float32" | "mergekit";
	warnings: string[];
}
