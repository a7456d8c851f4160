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

/** What went wrong, for code to switch on: the `kind` of a {@link SafetensorsError}. */
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
	| "IoError"
	| "TensorTooLarge";

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

/** What went wrong, for code to switch on: the `kind` of a {@link ModelError}. */
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
	| "UnknownAlias"
	| "UnfinishedMerge";

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

/** What went wrong, for code to switch on: the `kind` of a {@link RecipeError}. */
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

/** What went wrong, for code to switch on: the `kind` of a {@link PlanError}. */
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
	| "OutputExists"
	| "UnsafeOutput"
	| "TokenizerSource";

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

/** What went wrong, for code to switch on: the `kind` of a {@link MethodError}. */
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

/** What went wrong, for code to switch on: the `kind` of a {@link ExecError}. */
export type ExecErrorKind = "Io" | "DiskFull" | "Interrupted" | "ResumeMismatch" | "Backend" | "Locked";

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

/** What went wrong, for code to switch on: the `kind` of a {@link EvaluationError}. */
export type EvaluationErrorKind = "Data" | "Config" | "Tokenizer" | "Backend" | "Mismatch";

/** The evaluator could not load a model, tokenizer or data file. */
export class EvaluationError extends LmMergeError {
	constructor(
		readonly kind: EvaluationErrorKind,
		message: string,
	) {
		super(message);
	}
}

/** A command line that makes no sense (exit code 2). */
export class UsageError extends LmMergeError {
	override readonly exitCode: number = 2;
}

/** What went wrong, for code to switch on: the `kind` of a {@link HubError}. */
export type HubErrorKind =
	| "Unauthorized"
	| "Forbidden"
	| "RepoNotFound"
	| "RevisionNotFound"
	| "EntryNotFound"
	| "Conflict"
	| "Offline"
	| "Network"
	| "Server"
	| "InvalidResponse"
	| "InvalidToken"
	| "Integrity"
	| "Io"
	| "Interrupted";

/** A Hugging Face Hub request, download or upload that failed; `status` is the HTTP status when there was one. */
export class HubError extends LmMergeError {
	constructor(
		readonly kind: HubErrorKind,
		readonly repo: string,
		message: string,
		readonly status?: number,
		options?: { cause?: unknown },
	) {
		super(`${repo}: ${message}`, options);
	}
}

/** What went wrong, for code to switch on: the `kind` of a {@link SweepError}. */
export type SweepErrorKind = "Spec" | "Store" | "Queue" | "Trial" | "NotFound";

/** A sweep file, results store or job queue that cannot be used; `file` names the sweep file or store when known. */
export class SweepError extends LmMergeError {
	constructor(
		readonly kind: SweepErrorKind,
		message: string,
		readonly file?: string,
		options?: { cause?: unknown },
	) {
		super(`${file !== undefined ? `${file}: ` : ""}${message}`, options);
	}
}

/** What went wrong, for code to switch on: the `kind` of a {@link ReportError}. */
export type ReportErrorKind = "Input" | "Empty";

/** `merge report` inputs that cannot be read (not a store, not an evaluation report) or that hold nothing to show. */
export class ReportError extends LmMergeError {
	constructor(
		readonly kind: ReportErrorKind,
		message: string,
		readonly file?: string,
	) {
		super(`${file !== undefined ? `${file}: ` : ""}${message}`);
	}
}

/** What went wrong, for code to switch on: the `kind` of a {@link TorchBinError}. */
export type TorchBinErrorKind =
	| "NotACheckpoint"
	| "UnsupportedFormat"
	| "InvalidZip"
	| "UnsafeZipEntry"
	| "InvalidPickle"
	| "UnsafePickle"
	| "LimitExceeded"
	| "MissingStorage"
	| "InvalidTensor"
	| "IoError";

/**
 * A PyTorch `.bin` checkpoint that cannot be read safely: a malformed or hostile zip container, a pickle that does
 * more than `torch.save` of a state dict writes (refused before anything in it runs), or tensors that do not fit
 * their storages. `entry` names the zip entry or pickle position when there is one.
 */
export class TorchBinError extends LmMergeError {
	constructor(
		readonly kind: TorchBinErrorKind,
		readonly file: string,
		message: string,
		readonly entry?: string,
	) {
		super(`${file}: ${entry !== undefined ? `${entry}: ` : ""}${message}`);
	}
}

/** What went wrong, for code to switch on: the `kind` of a {@link LoraError}. */
export type LoraErrorKind =
	| "InvalidConfig"
	| "Unsupported"
	| "MissingWeights"
	| "InvalidWeights"
	| "UnknownModule"
	| "ShapeMismatch"
	| "NothingToExtract";

/** A PEFT LoRA adapter that cannot be applied (or a LoRA extraction that cannot be done); `location` is the adapter folder. */
export class LoraError extends LmMergeError {
	constructor(
		readonly kind: LoraErrorKind,
		readonly location: string,
		message: string,
	) {
		super(`${location}: ${message}`);
	}
}

/** What went wrong, for code to switch on: the `kind` of a {@link TokenizerError}. */
export type TokenizerErrorKind = "NotFound" | "Invalid" | "Unsupported" | "MissingToken";

/** A tokenizer that cannot be read, merged or extended as the recipe asks (`location`: the folder or file). */
export class TokenizerError extends LmMergeError {
	constructor(
		readonly kind: TokenizerErrorKind,
		readonly location: string,
		message: string,
	) {
		super(`${location}: ${message}`);
	}
}

/** What went wrong, for code to switch on: the `kind` of a {@link GgufError}. */
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

/** What went wrong, for code to switch on: the `kind` of an {@link InternalError} ("Assertion": a debug assertion failed). */
export type InternalErrorKind = "Assertion";

/**
 * A broken internal invariant, caught by a debug assertion (LM_MERGE_DEBUG=1, see debug-assert.ts): a bug in
 * lm-merge, or a caller of an inner function that skipped the check its public entry makes.
 */
export class InternalError extends LmMergeError {
	constructor(
		readonly kind: InternalErrorKind,
		message: string,
	) {
		super(message);
	}
}
