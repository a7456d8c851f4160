/**
 * One error class per failure domain, each with a `kind` discriminant. Tests assert the kind, never
 * the wording; the CLI prints `error: <message>` and maps the class to an exit code.
 */
export class LmMergeError extends Error {
	/** Exit code the CLI uses for this error: 1 runtime failure, 2 usage error. */
	readonly exitCode: number = 1;
	constructor(message: string, options?: { cause?: unknown }) {
		super(message, options);
		this.name = new.target.name;
	}
}

export type SafetensorsErrorKind =
	| "HeaderTooSmall"
	| "HeaderTooLarge"
	| "InvalidHeaderLength"
	| "InvalidHeaderUtf8"
	| "InvalidHeaderJson"
	| "InvalidHeaderDeserialization"
	| "DuplicateTensor"
	| "InvalidMetadata"
	| "ReservedTensorName"
	| "InvalidOffset"
	| "ValidationOverflow"
	| "MisalignedSlice"
	| "TensorInvalidInfo"
	| "MetadataIncompleteBuffer"
	| "UnsupportedDtype"
	| "TensorNotFound"
	| "InvalidRange"
	| "IoError";

/** A safetensors file that is not valid, or a tensor that cannot be read from it. */
export class SafetensorsError extends LmMergeError {
	constructor(
		readonly kind: SafetensorsErrorKind,
		readonly file: string,
		message: string,
		readonly tensor?: string,
	) {
		super(`${file}: ${tensor !== undefined ? `tensor "${tensor}": ` : ""}${message}`);
	}
}

export type ModelErrorKind =
	| "NotFound"
	| "NoWeights"
	| "AmbiguousWeights"
	| "InvalidIndex"
	| "MissingShard"
	| "ShardOutsideFolder"
	| "NotASafetensorsFile"
	| "TensorNotInShard"
	| "TensorInTwoShards"
	| "TensorNotInIndex"
	| "InvalidConfig"
	| "UnknownAlias";

/** A model folder, reference or config.json that cannot be used. */
export class ModelError extends LmMergeError {
	constructor(
		readonly kind: ModelErrorKind,
		readonly location: string,
		message: string,
	) {
		super(`${location}: ${message}`);
	}
}

export type RecipeErrorKind = "Yaml" | "Schema" | "Value" | "UnknownMethod" | "Unsupported";

/** A recipe (YAML or object) that is malformed; `path` is the YAML path, e.g. `models[1].parameters.weight`. */
export class RecipeError extends LmMergeError {
	constructor(
		readonly kind: RecipeErrorKind,
		readonly path: string,
		message: string,
		readonly file?: string,
	) {
		super(`${file !== undefined ? `${file}: ` : ""}${path !== "" ? `${path}: ` : ""}${message}`);
	}
}

export type PlanErrorKind =
	| "UnknownMethod"
	| "MissingTensor"
	| "ShapeMismatch"
	| "VocabMismatch"
	| "BaseRequired"
	| "ModelCount"
	| "MissingParameter"
	| "InvalidParameter"
	| "LayerRange"
	| "ArchitectureMismatch"
	| "FilterMatchesNothing"
	| "UnsupportedDtype"
	| "OutputInsideInput"
	| "OutputExists";

/** A merge that cannot be planned from the recipe and the model headers. */
export class PlanError extends LmMergeError {
	constructor(
		readonly kind: PlanErrorKind,
		message: string,
		readonly tensor?: string,
	) {
		super(message);
	}
}

export type MethodErrorKind = "InvalidInput" | "InvalidParameter" | "Numerical";

/** A kernel that received inputs it cannot merge (caught by the planner in normal use). */
export class MethodError extends LmMergeError {
	constructor(
		readonly kind: MethodErrorKind,
		readonly method: string,
		message: string,
	) {
		super(`${method}: ${message}`);
	}
}

export type ExecErrorKind = "Io" | "DiskFull" | "Interrupted" | "ResumeMismatch" | "Backend";

/** A merge that failed while running. */
export class ExecError extends LmMergeError {
	constructor(
		readonly kind: ExecErrorKind,
		message: string,
		options?: { cause?: unknown },
	) {
		super(message, options);
	}
}

export type EvalErrorKind = "Data" | "Config" | "Tokenizer" | "Backend" | "Mismatch";

/** The evaluator could not load a model, tokenizer or data file. */
export class EvalError extends LmMergeError {
	constructor(
		readonly kind: EvalErrorKind,
		message: string,
	) {
		super(message);
	}
}

/** A command line that makes no sense (exit code 2). */
export class UsageError extends LmMergeError {
	override readonly exitCode: number = 2;
}

export type GgufErrorKind =
	| "BadMagic"
	| "UnsupportedVersion"
	| "Truncated"
	| "BadAlignment"
	| "InvalidMetadata"
	| "InvalidTensorInfo"
	| "UnsupportedModel"
	| "UnsupportedTokenizer"
	| "OutputExists";

/** A GGUF file that is not valid, or a model that cannot be exported to GGUF. */
export class GgufError extends LmMergeError {
	constructor(
		readonly kind: GgufErrorKind,
		readonly file: string,
		message: string,
		readonly tensor?: string,
	) {
		super(`${file}: ${tensor !== undefined ? `tensor "${tensor}": ` : ""}${message}`);
	}
}
