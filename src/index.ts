// The public API of lm-merge: explicit named exports only.

export { VERSION } from "./version.js";
export {
	LmMergeError,
	SafetensorsError,
	ModelError,
	RecipeError,
	PlanError,
	MethodError,
	ExecError,
	EvalError,
	UsageError,
	HubError,
	SweepError,
	ReportError,
	GgufError,
} from "./errors.js";
export type {
	SafetensorsErrorKind,
	ModelErrorKind,
	RecipeErrorKind,
	PlanErrorKind,
	MethodErrorKind,
	ExecErrorKind,
	EvalErrorKind,
	HubErrorKind,
	SweepErrorKind,
	ReportErrorKind,
	GgufErrorKind,
} from "./errors.js";

// tensors
export { numel, shapeEquals, formatShape } from "./tensor/tensor.js";
export type { Tensor } from "./tensor/tensor.js";
export { rngKey, uniformAt, createRng } from "./tensor/rng.js";
export type { Rng, RngKey } from "./tensor/rng.js";

// safetensors I/O
export { DTYPES, isDtype, isFloatDtype, dtypeBytes, parseDtypeName, torchDtypeName } from "./io/dtypes.js";
export type { Dtype, FloatDtype } from "./io/dtypes.js";
export type { TensorInfo, SafetensorsHeader, TensorSource } from "./io/types.js";
export { parseHeader, readHeaderLength, MAX_HEADER_BYTES } from "./io/header.js";
export type { HeaderOptions } from "./io/header.js";
export { openSafetensors } from "./io/reader.js";
export type { SafetensorsFile } from "./io/reader.js";
export { decodeToF32, encodeFromF32, f32ToBf16Bits, bf16BitsToF32, f32ToF16Bits, f16BitsToF32 } from "./io/convert.js";
export { layoutTensors, planShards, shardFileName, parseSize } from "./io/layout.js";
export type { LayoutEntry, FileLayout } from "./io/layout.js";
export { SafetensorsWriter } from "./io/writer.js";
export { ShardedWriter } from "./io/sharded-writer.js";
export type { ShardedWriterOptions } from "./io/sharded-writer.js";
export { readIndexJson, formatIndexJson } from "./io/index-json.js";
export type { IndexJson } from "./io/index-json.js";
export { AtomicOutput, isPartialName, unfinishedOutputOf, UNFINISHED_MARKER } from "./io/atomic-output.js";
export type { AtomicOutputOptions } from "./io/atomic-output.js";
export { assertSafeOutput, assertNoOverlap } from "./io/output-guard.js";
export type { OutputGuardOptions, GuardedInput } from "./io/output-guard.js";
export { OutputLock, LOCK_SUFFIX } from "./io/output-lock.js";

// model folders, references, architectures
export { openModel } from "./model/model-dir.js";
export type { ModelSource } from "./model/model-source.js";
export { resolveModelRef, expandAlias, BUILTIN_ALIASES } from "./model/refs.js";
export type { ResolveOptions, ResolvedModel } from "./model/refs.js";
export { readModelConfig, parseModelConfig } from "./model/config.js";
export type { ModelConfig } from "./model/config.js";
export { detectArchitecture, layerIndexOf, moduleKindOf, isEmbedTensor, renameLayer, expectedTensorNames } from "./arch/detect.js";
export type { ModuleKind } from "./arch/detect.js";
export { MISTRAL, LLAMA } from "./arch/mistral.js";
export type { ArchitectureSpec, WeightSpec } from "./arch/types.js";
export { ARCHITECTURES, architectureByName } from "./arch/registry.js";
export { expectedWeights } from "./arch/expected-weights.js";
export { resolveArchitecture } from "./arch/resolve.js";
export type { ResolvedArchitecture } from "./arch/resolve.js";
export type { ConfigCondition, ConfigValue, RepeatSpec } from "./arch/types.js";

// tokenizer vocabularies: union, strip, row maps (tokenizer_source union | base | <model>)
export { TokenizerError } from "./errors.js";
export type { TokenizerErrorKind } from "./errors.js";
export { readTokenizerFolder } from "./vocab/tokenizer-files.js";
export type { TokenizerFolder, TokenizerJson } from "./vocab/tokenizer-files.js";
export { vocabularyOf } from "./vocab/vocabulary.js";
export type { Vocabulary } from "./vocab/vocabulary.js";
export { unionTokenizer, addPlainTokens } from "./vocab/union.js";
export { stripTokenizer } from "./vocab/strip.js";
export { planRows, ROW_DEFAULT, ROW_MEAN } from "./vocab/row-plan.js";
export type { RowPlan, TokenOverride, TokenSource } from "./vocab/row-plan.js";
export type { VocabSummary } from "./plan/types.js";
export type { RecipeTokenizer, RecipeTokenOverride, RecipeTokenSource } from "./recipe/schema.js";

// the Hugging Face Hub: downloads into the shared cache, uploads, tokens
export { downloadSnapshot, downloadSnapshotIter, DEFAULT_CONCURRENCY } from "./hub/download.js";
export type { DownloadOptions } from "./hub/download.js";
export { uploadFolder, uploadFolderIter } from "./hub/upload.js";
export type { UploadOptions } from "./hub/upload.js";
export type { DownloadEvent, DownloadResult, UploadEvent, UploadResult } from "./hub/events.js";
export { selectMergeFiles, shardsOfIndex, MODEL_SIDE_FILES } from "./hub/select-files.js";
export type { FileSelector, FileSelection } from "./hub/select-files.js";
export { snapshotIsComplete } from "./hub/snapshot-status.js";
export { resolveHubToken, tokenFilePath } from "./hub/token.js";
export type { HubToken } from "./hub/token.js";
export { hubSettings, hubEndpoint, isOffline, DEFAULT_HUB_ENDPOINT } from "./hub/settings.js";
export type { HubOptions, HubSettings } from "./hub/settings.js";
export { hfCacheRoot, hfRepoFolderName, RepoCache } from "./hub/cache-layout.js";
export { parseHfRef, isCommitHash } from "./hub/repo-id.js";
export type { HfRef } from "./hub/repo-id.js";

// tiny checkpoints for tests, examples and demos
export { writeTinyMistral, writeTinyPair } from "./fixtures/tiny-model.js";
export type { TinyMistralOptions, TinyModel } from "./fixtures/tiny-model.js";
export { writeHfCacheModel } from "./fixtures/hf-cache-model.js";
export type { HfCacheModelOptions } from "./fixtures/hf-cache-model.js";
export { writeTinyArchitecture } from "./fixtures/tiny-architecture.js";
export type { TinyArchitectureOptions } from "./fixtures/tiny-architecture.js";

// merge methods: plain typed-array kernels, method definitions, the registry
export { linear, linearMethod } from "./methods/linear.js";
export { slerp, slerpMethod } from "./methods/slerp.js";
export { passthrough, passthroughMethod } from "./methods/passthrough.js";
export { mergeTaskVectors, defineTaskArithmetic } from "./methods/task-vector/index.js";
export { taskArithmetic, taskArithmeticMethod } from "./methods/task-arithmetic.js";
export { ties, tiesMethod } from "./methods/ties.js";
export { dare, dareTiesMethod, dareLinearMethod } from "./methods/dare.js";
export { breadcrumbs, breadcrumbsMethod, breadcrumbsTiesMethod } from "./methods/breadcrumbs.js";
export { della, dellaMethod, dellaLinearMethod } from "./methods/della.js";
export { magnitudeMask, dropAndRescale, magnitudeOutliers, dellaMagprune } from "./methods/task-vector/index.js";
export { nuslerp, nuslerpMethod } from "./methods/nuslerp.js";
export { multislerp, multislerpMethod } from "./methods/multislerp.js";
export { karcher, karcherMethod } from "./methods/karcher.js";
export { sce, sceMethod } from "./methods/sce.js";
export { modelStock, modelStockMethod } from "./methods/model-stock.js";
export { nearswap, nearswapMethod } from "./methods/nearswap.js";
export { arceeFusion, arceeFusionMethod } from "./methods/arcee-fusion.js";
export { ram, ramplusTl, ramMethod, ramplusTlMethod } from "./methods/ram.js";
export { defineMethod } from "./methods/define.js";
export type { MethodSpec } from "./methods/define.js";
export { BUILTIN_METHODS, createRegistry } from "./methods/registry.js";
export type { MethodRegistry } from "./methods/registry.js";
export type {
	BaseRequirement,
	MergeContext,
	MergeInput,
	MergeMethod,
	ParamDef,
	ParamSpec,
	ParamValues,
} from "./methods/types.js";
export type { ParamProblem } from "./methods/types.js";

// backends
export { cpuBackend } from "./backends/cpu.js";
export type { Backend } from "./backends/types.js";

// recipes, plans, execution
export { loadRecipe, parseRecipe } from "./recipe/load.js";
export { resolveSetting, lookupParam, layerT } from "./recipe/params.js";
export type { Recipe, RecipeModel, RecipeSlice, RecipeSource, ParamSetting, ParamTable } from "./recipe/schema.js";
export { BUILTIN_CHAT_TEMPLATES, chatTemplateText, isLiteralChatTemplate } from "./chat-templates/builtin.js";
export type { BuiltinChatTemplate } from "./chat-templates/builtin.js";
export { buildPlan, buildPlan as planMerge, closePlan } from "./plan/plan.js";
export { estimatePeakMemory, jobMemory, MEMORY_BUDGET_BYTES } from "./plan/memory.js";
export type { PlanOptions } from "./plan/plan.js";
export type { MergePlan, TensorJob, JobInput, PlannedModel } from "./plan/types.js";
export type { CompatMode } from "./plan/compat.js";
export { runMerge, drainMerge, checkOutputPath, DEFAULT_SHARD_BYTES } from "./exec/run.js";
export { savedRecipeText, RECIPE_FILES } from "./exec/run.js";
export { effectiveRecipeText } from "./recipe/effective-text.js";
export type { RecipeOverrides } from "./recipe/effective-text.js";
export type { RunOptions } from "./exec/run.js";
export { mergeModels, mergeModelsIter } from "./exec/merge-models.js";
export type { MergeModelsOptions, RecipeInput } from "./exec/merge-models.js";
export type { MergeEvent, MergeResult } from "./exec/events.js";
export { createTfjsBackend, TFJS_KERNELS, TFJS_TOLERANCE } from "./backends/tfjs.js";
export type { TfjsBackendOptions } from "./backends/tfjs.js";

// the evaluator
export { evaluate, evaluateIter, DEFAULT_SHOTS, DEFAULT_SEEDS } from "./eval/evaluate.js";
export type { EvaluateOptions } from "./eval/evaluate.js";
export { renderMarkdown, renderText } from "./eval/report.js";
export { loadTokenizer } from "./eval/tokenizer.js";
export type { Tokenizer } from "./eval/tokenizer.js";
export { letterTokenIds } from "./eval/letters.js";
export { TASK_NAMES } from "./eval/tasks/registry.js";
export { loadEvalModel } from "./eval/eval-model.js";
export type { EvalModel, EvalModelOptions, StreamingMode } from "./eval/eval-model.js";
export type { Device } from "./eval/tfjs-backend.js";
export type { EvalReport, TaskReport, ItemReport, McqaItem, EvalEvent, EvalMode, TaskName } from "./eval/types.js";

// reports: HTML pages with charts, Markdown tables
export { reliabilityBins, eceFromBins } from "./report/calibration.js";
export { taskScores, toTaskScore, rowsOfReport, quantizedComparisons, settingsOf } from "./report/scores.js";
export { renderReportMarkdown, renderTrialTable } from "./report/markdown.js";
export { taskColumns, accuracyOf, eceOf, shortParamNames } from "./report/columns.js";
export type { Column } from "./report/columns.js";
export { renderReportHtml } from "./report/html.js";
export { chartSpecs } from "./report/charts.js";
export type { ChartSpec } from "./report/charts.js";
export type {
	ReliabilityBin,
	TaskScore,
	TaskScores,
	ReportRow,
	ReportData,
	ReportInput,
	QuantizedVariant,
	QuantizedComparison,
} from "./report/types.js";

// sweeps: merge → score loops, the results store, the job queue
export { loadSweep, parseSweep } from "./sweep/spec.js";
export type { SweepSpec, SweepStrategySpec, SweepParam, RangeParam, ChoiceParam } from "./sweep/spec.js";
export { parseObjective, OBJECTIVES } from "./sweep/objective.js";
export type { Objective } from "./sweep/objective.js";
export { buildTrial } from "./sweep/build-trial.js";
export { resultKey, evalKeyFields, canonicalJson } from "./sweep/trial-key.js";
export { CmaEs, cmaesParameters } from "./sweep/cmaes.js";
export type { CmaEsOptions } from "./sweep/cmaes.js";
export { sweepBatches, gridPoints, randomPoints, fromUnit, BOX_PENALTY } from "./sweep/strategy.js";
export type { ParamSet } from "./sweep/strategy.js";
export { ResultsStore } from "./sweep/store.js";
export type { StoredTrial, TrialStatus } from "./sweep/store.js";
export { STORE_SCHEMA, STORE_SCHEMA_VERSION } from "./sweep/store-schema.js";
export { runTrial, checkTrialEval, toEvaluateOptions, TRIAL_BACKENDS } from "./sweep/trial.js";
export type { TrialRunOptions } from "./sweep/trial.js";
export type { TrialEval, TrialSpec, TrialResult } from "./sweep/trial-types.js";
export type { SweepEvent, TrialEvent } from "./sweep/events.js";
export { runSweepLocal, storedObjective } from "./sweep/local.js";
export type { SweepRunOptions, SweepSummary } from "./sweep/local.js";
export { plannedTrials } from "./sweep/plan-trials.js";
export { runSweepQueued, collectFinished, collectFinishedFor, queueStatus, parseQueueUrl, DEFAULT_QUEUE_NAME, TRIAL_ATTEMPTS } from "./sweep/queue.js";
export type { QueueRunOptions, QueueStatus } from "./sweep/queue.js";
export { startWorker } from "./sweep/worker.js";
export type { WorkerOptions, WorkerHandle, WorkerEvent } from "./sweep/worker.js";
export { recordEvaluation } from "./sweep/record-eval.js";
export { readReportData, defaultStorePath } from "./sweep/report-source.js";
export { workerId } from "./sweep/worker-id.js";
// PyTorch .bin checkpoints (issue 14)
export { TorchBinError } from "./errors.js";
export type { TorchBinErrorKind } from "./errors.js";
export { openTorchBin } from "./io/torch-bin/torch-bin-file.js";
export type { TorchBinFile } from "./io/torch-bin/torch-bin-file.js";
export { ALLOWED_GLOBALS } from "./io/torch-bin/torch-globals.js";
export { convertModel, convertModelIter } from "./exec/convert-model.js";
export type { ConvertOptions, ConvertResult } from "./exec/convert-model.js";

// LoRA adapters: model+adapter inputs and extraction (issue 14)
export { LoraError } from "./errors.js";
export type { LoraErrorKind } from "./errors.js";
export { resolveModelWithAdapter } from "./model/adapter-ref.js";
export type { ResolvedModelWithAdapter } from "./model/adapter-ref.js";
export { openAdapter } from "./lora/adapter.js";
export type { LoraAdapter, LoraModule } from "./lora/adapter.js";
export { readAdapterConfig, parseAdapterConfig, moduleScaling } from "./lora/adapter-config.js";
export type { AdapterConfig } from "./lora/adapter-config.js";
export { applyLora } from "./lora/apply.js";
export { openModelWithAdapter } from "./lora/open.js";
export type { ModelOpenSpec } from "./lora/open.js";
export { randomizedSvd } from "./lora/svd.js";
export type { TruncatedSvd, SvdOptions } from "./lora/svd.js";
export { extractLora } from "./lora/extract.js";
export type { ExtractOptions, ExtractedModule, ExtractedAdapter, ExtractEvent } from "./lora/extract.js";
export { extractLoraIter, extractLoraAdapter } from "./lora/extract-folder.js";
export type { ExtractLoraOptions, ExtractLoraResult, ExtractLoraEvent } from "./lora/extract-folder.js";
export type { RunReport, DataFileReport } from "./eval/types.js";
export { QUANT_TYPES, isQuantType } from "./eval/backends/types.js";
export type { BackendName, HardwareDevice, QuantType, BackendInfo, ForwardBackend, ForwardRequest, ForwardOptions, BackendLoader, BackendLoadOptions } from "./eval/backends/types.js";
export { BACKEND_NAMES, isBackendName, backendLoader } from "./eval/backends/registry.js";
export { formatReportJson } from "./eval/report-json.js";
export { letterDeviation, renderVariantTable } from "./eval/variants.js";
export type { LetterDeviation } from "./eval/variants.js";
export { expandTaskNames, TASK_ALIASES } from "./eval/tasks/registry.js";
export { modelName } from "./eval/model-name.js";

// GGUF export for llama.cpp
export { exportGguf, exportGgufIter } from "./gguf/export.js";
export type { ExportGgufOptions, ExportGgufResult, ExportEvent } from "./gguf/export.js";
export { GGUF_EXPORT_TYPES, isGgufExportType, tensorTypeFor } from "./gguf/mix.js";
export type { GgufExportType } from "./gguf/mix.js";
export { GGML_TYPES } from "./gguf/constants.js";
export type { GgmlType } from "./gguf/constants.js";
export { openGguf, MAX_GGUF_HEADER_BYTES } from "./gguf/reader.js";
export type { GgufFile, GgufTensorInfo } from "./gguf/reader.js";
export type { GgufValue, GgufMetadata } from "./gguf/metadata.js";
export { GGUF_MAGIC } from "./gguf/constants.js";
