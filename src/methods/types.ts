import type { RngKey } from "../tensor/rng.js";

/** Whether a method needs a base model (the `base_model` of the recipe). */
export type BaseRequirement = "required" | "optional" | "none";

/** What every parameter definition has, whatever its type. */
interface ParamDefBase {
	/** One line for `merge methods` and docs. */
	description: string;
	/** A value must be resolved for every tensor (for per-model params: for every non-base model). */
	required?: boolean;
}

/** A numeric parameter (`weight`, `density`, `t`, ...), with its default and the range a recipe value must lie in. */
export interface NumberParamDef extends ParamDefBase {
	type: "number";
	default?: number;
	/** Inclusive bounds unless the matching `exclusive*` flag is set. Values outside are recipe errors. */
	min?: number;
	max?: number;
	exclusiveMin?: boolean;
	exclusiveMax?: boolean;
	integer?: boolean;
}

/** A true/false parameter (`normalize`, `rescale`, ...). */
interface BooleanParamDef extends ParamDefBase {
	type: "boolean";
	default?: boolean;
}

/** A parameter taking one of a fixed list of values (DARE's `rescale`: true, false or `inverse_density`). */
interface EnumParamDef<V extends string | boolean = string | boolean> extends ParamDefBase {
	type: "enum";
	values: readonly V[];
	default?: V;
}

/** One parameter of a method: its type, default, range or allowed values, and a description (see {@link ParamSpec}). */
export type ParamDef = NumberParamDef | BooleanParamDef | EnumParamDef;

/** A method's parameter table: name → definition. */
export type ParamSpec = Record<string, ParamDef>;

/** The TypeScript type of a definition's values: number, boolean, or the union of an enum's values. */
type ValueOf<D> = D extends { type: "number" }
	? number
	: D extends { type: "boolean" }
		? boolean
		: D extends { type: "enum"; values: readonly (infer V)[] }
			? V
			: never;

/** A definition's value as the kernel receives it: always set when it has a default or is required, else maybe undefined. */
type Resolved<D> = D extends { default: unknown } ? ValueOf<D> : D extends { required: true } ? ValueOf<D> : ValueOf<D> | undefined;

/** The plain values a kernel receives for a spec (defaults filled in by the planner). */
export type ParamValues<S extends ParamSpec> = { [K in keyof S]: Resolved<S[K]> };

/**
 * Everything a kernel gets for one output tensor (or one chunk of it).
 *
 * Ownership: when `inPlace` is true the caller hands the arrays over. The executor reads every input tensor into
 * an array of its own and never reads `base` or `models` after merge() returns, so a kernel may use them as
 * scratch (task vectors computed in the model arrays) and may return one of them as the result (usually `base`
 * or `models[0]`), saving a full-size allocation per tensor. Without `inPlace` (tests, library users calling
 * `method.merge` directly) the arrays are read-only and the result is a new array.
 */
export interface MergeInput<P, M> {
	tensorName: string;
	shape: readonly number[];
	/** The base model's tensor, when the method uses a base; may be overwritten by the kernel (see `inPlace`). */
	base: Float32Array | undefined;
	/** The non-base inputs, in recipe order; may be overwritten by the kernel (see `inPlace`). */
	models: Float32Array[];
	/**
	 * The caller gives up `base` and `models`: the kernel may overwrite them and return one of them. The arrays must
	 * not share memory with each other (kernels that see aliasing fall back to a fresh output). Omitted means false.
	 */
	inPlace?: boolean;
	/** Global parameters, already resolved for this tensor. */
	params: P;
	/** Per-model parameters, resolved for this tensor, aligned with `models`. */
	modelParams: M[];
	/**
	 * Index of element 0 of these arrays within the whole tensor: 0 for whole tensors, the chunk start when an
	 * elementwise method runs on a slice (random streams are indexed by whole-tensor element position).
	 */
	elementOffset?: number;
	/**
	 * The caller promises that `params` and `modelParams` passed the planner's check against this method's
	 * declaration (buildPlan checks every job it plans; the executor sets this). A method built by defineMethod then
	 * skips its entry check (LM_MERGE_DEBUG=1 still makes it). Omitted means false: the values are checked once.
	 */
	paramsChecked?: boolean;
}

/** Context for randomised kernels: counter-based streams keyed by (seed, tensor name, model index). */
export interface MergeContext {
	readonly seed: number;
	/** The stream for model `modelIndex` (index into `models`; -1 for the base), `purpose` separates uses. */
	rngKey(modelIndex: number, purpose?: number): RngKey;
	/** Non-fatal notes (e.g. "weights are ignored by karcher"); the executor reports each once. */
	warn(message: string): void;
}

/** A constraint between parameters that is broken: the parameters involved and why (checkModelParams, checkTensorParams). */
export interface ParamProblem {
	params: string[];
	message: string;
	/** checkTensorParams: the model whose per-model values break it (omitted: every model's values take part). */
	model?: number;
}

/** The tensor a method's parameters are checked against (checkTensorParams): its element count and shape. */
export interface TensorSize {
	numel: number;
	shape: readonly number[];
}

/** A registered merge method: self-description plus a pure kernel on float32 arrays. */
/* biome-ignore lint/suspicious/noExplicitAny: a registry holds methods of different parameter types; each method is typed where it is
   defined. */
export interface MergeMethod<P = any, M = any> {
	readonly name: string;
	readonly prettyName: string;
	readonly referenceUrl?: string;
	/** A paragraph for `merge methods` and docs. */
	readonly description: string;
	readonly base: BaseRequirement;
	/** Bounds on the number of non-base models (inclusive). */
	readonly minModels: number;
	readonly maxModels: number;
	readonly params: ParamSpec;
	readonly modelParams: ParamSpec;
	/** Per-model parameters that mergekit accepts but this method ignores (the planner warns when set). */
	readonly ignoredModelParams?: readonly string[];
	/** Uses ctx.rngKey (so `seed` matters). */
	readonly random?: boolean;
	/**
	 * A constraint between one model's parameters that ranges alone cannot express (DELLA's keep-probability band).
	 * The planner calls it for every tensor and model with the resolved values, so the kernel never meets them.
	 */
	readonly checkModelParams?: (params: P, modelParams: M) => ParamProblem | undefined;
	/**
	 * A constraint across the models' parameters, or between them and the tensor's size, that ranges alone cannot
	 * express (linear's weights cancelling out under `normalize`, a TIES density keeping no element of a small
	 * tensor). The planner calls it for every tensor it plans (float32 arithmetic; `compat: mergekit` kernels keep
	 * their own rules), so the kernel never meets them; values may be absent (their defaults apply).
	 */
	readonly checkTensorParams?: (params: P, modelParams: readonly M[], tensor: TensorSize) => ParamProblem | undefined;
	/**
	 * When true for the given params, out[i] depends only on inputs at i, so the executor may split a tensor into
	 * element ranges (threads, bounded memory) and pass `elementOffset`. Omitted means false.
	 */
	readonly elementwise?: (params: P, modelParams: M[]) => boolean;
	/** The kernel: merges one tensor (or one element range of it) and returns the result in float32. */
	merge(input: MergeInput<P, M>, ctx: MergeContext): Float32Array;
	/** A form that streams a large tensor chunk by chunk (global statistics in scan passes, then output). */
	readonly chunked?: ChunkedForm<P, M>;
}

/**
 * One range of a tensor's elements, decoded to float32: the executor hands a tensor to a chunked kernel as
 * consecutive chunks, so memory stays at the encoded inputs plus a few chunk buffers whatever the tensor size.
 * The arrays are scratch: a kernel may overwrite them.
 */
export interface Chunk {
	/** Index of the chunk's first element within the whole tensor. */
	offset: number;
	base: Float32Array | undefined;
	models: Float32Array[];
}

/**
 * A kernel that reads a tensor as chunks, in order: `scanPasses` read-only passes over every chunk
 * (global statistics: norms, dot products, selection histograms), then one `emit` pass producing the
 * output chunk by chunk. Results must not depend on the chunk size (multiples of CHUNK_ALIGN elements).
 * Within a pass and in the emit pass, chunks come in index order and cover the tensor once.
 */
export interface ChunkedKernel {
	/**
	 * Scan passes still to run, counted from pass 0. It may shrink (never grow) once a pass has covered the
	 * tensor, when the kernel finds it needs fewer passes than it first planned for (e.g. a rank search that
	 * succeeded early), so callers must re-read it before starting each pass, not only once.
	 */
	readonly scanPasses: number;
	/** Reads one chunk during scan pass `pass` (0-based), accumulating the statistics the emit pass needs. */
	scan(pass: number, chunk: Chunk): void;
	/** The output values for this chunk (may be one of the chunk's own arrays). */
	emit(chunk: Chunk): Float32Array;
}

/** What a chunked kernel is created from: the resolved parameters and the whole tensor's size. */
interface ChunkedInput<P, M> {
	tensorName: string;
	shape: readonly number[];
	numel: number;
	params: P;
	modelParams: M[];
	models: number;
	/** As MergeInput.paramsChecked: the planner checked the values (the executor sets it); omitted means false. */
	paramsChecked?: boolean;
}

/** A method's chunked form. `supports` lets the planner know, from parameters alone, that it applies. */
export interface ChunkedForm<P, M> {
	/** Whether the chunked form handles these parameters (otherwise the tensor is merged whole). */
	supports(params: P, modelParams: M[]): boolean;
	/** A fresh kernel for one tensor. */
	create(input: ChunkedInput<P, M>, ctx: MergeContext): ChunkedKernel;
}
