/**
 * `lm-merge/errors`: every error the library throws, one class per failure domain, each with a `kind` to switch on
 * (the message is for people; the kind is for code, and does not change between releases).
 *
 * ```ts
 * import { loadRecipe } from "lm-merge";
 * import { RecipeError } from "lm-merge/errors";
 * try {
 * 	await loadRecipe("recipe.yml");
 * } catch (e) {
 * 	if (e instanceof RecipeError && e.kind === "UnknownMethod") console.error(e.message);
 * 	else throw e;
 * }
 * ```
 *
 * @module lm-merge/errors
 */

export {
	LmMergeError,
	SafetensorsError,
	ModelError,
	RecipeError,
	PlanError,
	MethodError,
	ExecError,
	EvaluationError,
	UsageError,
	HubError,
	SweepError,
	ReportError,
	TorchBinError,
	LoraError,
	TokenizerError,
	GgufError,
	InternalError,
} from "./errors.js";
export type {
	SafetensorsErrorKind,
	ModelErrorKind,
	RecipeErrorKind,
	PlanErrorKind,
	MethodErrorKind,
	ExecErrorKind,
	EvaluationErrorKind,
	HubErrorKind,
	SweepErrorKind,
	ReportErrorKind,
	TorchBinErrorKind,
	LoraErrorKind,
	TokenizerErrorKind,
	GgufErrorKind,
	InternalErrorKind,
} from "./errors.js";
