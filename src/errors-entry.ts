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

export type {
	EvaluationErrorKind,
	ExecErrorKind,
	GgufErrorKind,
	HubErrorKind,
	InternalErrorKind,
	LoraErrorKind,
	MethodErrorKind,
	ModelErrorKind,
	PlanErrorKind,
	RecipeErrorKind,
	ReportErrorKind,
	SafetensorsErrorKind,
	SweepErrorKind,
	TokenizerErrorKind,
	TorchBinErrorKind,
} from "./errors.js";
export {
	EvaluationError,
	ExecError,
	GgufError,
	HubError,
	InternalError,
	LmMergeError,
	LoraError,
	MethodError,
	ModelError,
	PlanError,
	RecipeError,
	ReportError,
	SafetensorsError,
	SweepError,
	TokenizerError,
	TorchBinError,
	UsageError,
} from "./errors.js";
