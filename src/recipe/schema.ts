import { z } from "zod";
import { type FloatDtype, parseDtypeName } from "../io/dtypes.js";
import { checkLayerRange, checkParamTable } from "./setting-schema.js";

/** A single parameter value as YAML writes it. */
export type ParamScalar = number | boolean | string;
/** A gradient (all numbers, interpolated) or a step list (booleans / strings, picked by layer). */
type ParamList = number[] | Array<boolean | string>;
/** What a conditional entry's `value` may hold: a scalar or a list, never another filter list. */
export type ParamValue = ParamScalar | ParamList;
/** One `{filter, value}` entry; a missing or null filter, or "*", matches every tensor. */
export interface ParamCondition {
	filter?: string | null;
	value: ParamValue;
}
/** Any mergekit parameter setting: scalar, gradient, step list or a list of conditional entries. */
export type ParamSetting = ParamValue | ParamCondition[];
/** A setting plus its YAML path (e.g. `models[1].parameters.weight`), for error messages. */
interface ParamEntry {
	setting: ParamSetting;
	path: string;
}
/** A `parameters:` block: parameter name → setting with path. Keys are the YAML names (snake_case). */
export type ParamTable = Record<string, ParamEntry>;

/** One `models:` entry. `path` is its YAML path, e.g. `models[1]`. */
interface RecipeModel {
	model: string;
	parameters: ParamTable;
	path: string;
}

/** One source of a slice: a model and the half-open layer range [start, end) it contributes. */
interface RecipeSource {
	model: string;
	layerRange: [number, number];
	parameters: ParamTable;
	/** YAML path, e.g. `slices[0].sources[1]`. */
	path: string;
}

/** One `slices:` entry. */
interface RecipeSlice {
	sources: RecipeSource[];
	baseModel?: string;
	parameters: ParamTable;
	/** YAML path, e.g. `slices[0]`. */
	path: string;
}

/** Where one token's default embedding comes from (`tokenizer.tokens.<token>.source`). */
type RecipeTokenSource =
	| { kind: "model"; model: string }
	| { kind: "model_token"; model: string; token?: string; tokenId?: number }
	| { kind: "zero" };

/** One `tokenizer.tokens` entry: add the token if missing, and say where its embedding comes from. */
export interface RecipeTokenOverride {
	token: string;
	source: RecipeTokenSource;
	/** Use that embedding in every model, even those that have the token. */
	force: boolean;
	/** YAML path, e.g. `tokenizer.tokens["<|im_start|>"]`. */
	path: string;
}

/** The `tokenizer:` block. */
export interface RecipeTokenizer {
	source: string;
	tokens: RecipeTokenOverride[];
	/** Round the vocabulary up to a multiple of this; padding rows get the mean embedding. */
	padToMultipleOf?: number;
}

/** Numeric mode: `float32` (our default: math in float32) or `mergekit` (round where mergekit casts). */
type RecipeCompat = "float32" | "mergekit";

/** A parsed, structurally valid recipe. Method-dependent checks (ranges, names, base) belong to the planner. */
export interface Recipe {
	mergeMethod: string;
	baseModel?: string;
	/** Exactly one of `models` and `slices` is set. */
	models?: RecipeModel[];
	slices?: RecipeSlice[];
	/** Top-level `parameters:` (paths `parameters.<name>`); empty when absent. */
	parameters: ParamTable;
	dtype?: FloatDtype;
	outDtype?: FloatDtype;
	/**
	 * Where the output vocabulary comes from: "union", "base" or a model reference (from `tokenizer_source`, or
	 * `tokenizer.source`, whose default is union; a `model:` prefix is removed). Absent: the donor's files are copied.
	 */
	tokenizerSource?: string;
	/** Set when the recipe used the `tokenizer:` block rather than `tokenizer_source`. */
	tokenizer?: RecipeTokenizer;
	/** `chat_template`, copied through untouched ("auto", a built-in name or a Jinja template). */
	chatTemplate?: string;
	/** Our extension (`seed`, or mergekit CLI's name `random_seed`): seeds DARE / DELLA draws. */
	seed?: number;
	/** Our extension: numeric compatibility mode. */
	compat?: RecipeCompat;
	/** Our extension (`truncate_vocab`): merge embeddings on the common sub-matrix instead of failing. */
	allowVocabTruncation?: boolean;
	/** mergekit-multi's document name, kept as metadata. */
	name?: string;
	/** The original YAML text. */
	text: string;
	/** The file the recipe was read from, if any. */
	file?: string;
}

const modelRef = z.string().min(1);

/**
 * A `parameters:` block; YAML `parameters:` with nothing after it (null) means "none", as in mergekit. Each
 * setting is checked by hand, so that every issue carries the exact element path and a clear message.
 */
const paramTable = z.custom<Record<string, ParamSetting> | null>().superRefine(checkParamTable).optional();

const dtypeName = z.string().superRefine((name, ctx) => {
	if (parseDtypeName(name) === undefined) {
		ctx.addIssue({
			code: "custom",
			message: "unknown dtype; expected bfloat16, float16, float32 or float64 (optionally torch.-prefixed)",
			params: { kind: "Value" },
		});
	}
});

const layerRange = z.custom<[number, number]>().superRefine(checkLayerRange);

const rawModelSchema = z.strictObject({
	model: modelRef,
	parameters: paramTable,
});

const rawSourceSchema = z.strictObject({
	model: modelRef,
	layer_range: layerRange,
	parameters: paramTable,
});

const rawSliceSchema = z.strictObject({
	sources: z.array(rawSourceSchema).min(1),
	base_model: modelRef.nullish(),
	parameters: paramTable,
	/** Parsed and unused by mergekit; accepted for compatibility and ignored. */
	residual_weight: z.number().optional(),
});

/** `source:` of a `tokenizer.tokens` entry: a model reference, `{kind: model_token, ...}` or `{kind: zero}`. */
const rawTokenSourceSchema = z.union([
	z.string().min(1),
	z.strictObject({
		kind: z.literal("model_token"),
		model: modelRef,
		token: z.string().min(1).optional(),
		token_id: z.number().int().nonnegative().optional(),
	}),
	z.strictObject({ kind: z.literal("zero") }),
]);

const rawTokenEntrySchema = z.strictObject({
	source: rawTokenSourceSchema.nullish(),
	force: z.boolean().optional(),
});

const rawTokenizerSchema = z.strictObject({
	source: z.string().min(1).optional(),
	tokens: z.record(z.string().min(1), rawTokenEntrySchema).nullish(),
	pad_to_multiple_of: z.number().int().positive().nullish(),
});

/** A seed is split into two 32-bit halves by rngKey, so any non-negative safe integer is used exactly. */
const seed = z.number().int().nonnegative();

/** The YAML file as written (snake_case keys). Cross-key rules live in load.ts. */
export const rawRecipeSchema = z.strictObject({
	merge_method: z.string().min(1),
	base_model: modelRef.nullish(),
	models: z.array(rawModelSchema).min(1).optional(),
	slices: z.array(rawSliceSchema).min(1).optional(),
	modules: z.unknown().optional(),
	parameters: paramTable,
	dtype: dtypeName.nullish(),
	out_dtype: dtypeName.nullish(),
	tokenizer_source: z.string().min(1).nullish(),
	tokenizer: rawTokenizerSchema.nullish(),
	chat_template: z.string().min(1).nullish(),
	seed: seed.optional(),
	random_seed: seed.optional(),
	compat: z.enum(["float32", "mergekit"]).optional(),
	truncate_vocab: z.boolean().optional(),
	name: z.string().min(1).optional(),
});

export type RawRecipe = z.output<typeof rawRecipeSchema>;

/** Known keys per mapping kind, for "did you mean" suggestions on unknown keys. */
export const KNOWN_KEYS = {
	root: Object.keys(rawRecipeSchema.shape),
	model: Object.keys(rawModelSchema.shape),
	slice: Object.keys(rawSliceSchema.shape),
	source: Object.keys(rawSourceSchema.shape),
	tokenizer: Object.keys(rawTokenizerSchema.shape),
	tokenEntry: Object.keys(rawTokenEntrySchema.shape),
} as const;
