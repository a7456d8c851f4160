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

// model folders, references, architectures
export { openModel } from "./model/model-dir.js";
export type { ModelSource } from "./model/model-source.js";
export { resolveModelRef, BUILTIN_ALIASES } from "./model/refs.js";
export type { ResolveOptions, ResolvedModel } from "./model/refs.js";
export { readModelConfig, parseModelConfig } from "./model/config.js";
export type { ModelConfig } from "./model/config.js";
export { detectArchitecture, layerIndexOf, moduleKindOf, isEmbedTensor, renameLayer, expectedTensorNames } from "./arch/detect.js";
export type { ModuleKind } from "./arch/detect.js";
export { MISTRAL, LLAMA } from "./arch/mistral.js";
export type { ArchitectureSpec, WeightSpec } from "./arch/types.js";

// tiny checkpoints for tests, examples and demos
export { writeTinyMistral, writeTinyPair } from "./fixtures/tiny-model.js";
export type { TinyMistralOptions, TinyModel } from "./fixtures/tiny-model.js";
export { writeHfCacheModel } from "./fixtures/hf-cache-model.js";
export type { HfCacheModelOptions } from "./fixtures/hf-cache-model.js";

// merge methods: plain typed-array kernels, method definitions, the registry
export { linear, linearMethod } from "./methods/linear.js";
export { slerp, slerpMethod } from "./methods/slerp.js";
export { passthrough, passthroughMethod } from "./methods/passthrough.js";
export { mergeTaskVectors, defineTaskArithmetic, taskArithmetic, taskArithmeticMethod } from "./methods/task-arithmetic.js";
export { ties, tiesMethod } from "./methods/ties.js";
export { dare, dareTiesMethod, dareLinearMethod } from "./methods/dare.js";
export { breadcrumbs, breadcrumbsMethod, breadcrumbsTiesMethod } from "./methods/breadcrumbs.js";
export { della, dellaMethod, dellaLinearMethod } from "./methods/della.js";
export { magnitudeMask, dropAndRescale, magnitudeOutliers, dellaMagprune } from "./methods/sparsify.js";
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

// backends
export { cpuBackend } from "./backends/cpu.js";
export type { Backend } from "./backends/types.js";

// recipes, plans, execution
export { loadRecipe, parseRecipe } from "./recipe/load.js";
export { resolveSetting, lookupParam, layerT } from "./recipe/params.js";
export type { Recipe, RecipeModel, RecipeSlice, RecipeSource, ParamSetting, ParamTable } from "./recipe/schema.js";
export { buildPlan, buildPlan as planMerge, closePlan } from "./plan/plan.js";
export { estimatePeakMemory, jobMemory, MEMORY_BUDGET_BYTES } from "./plan/memory.js";
export type { PlanOptions } from "./plan/plan.js";
export type { MergePlan, TensorJob, JobInput, PlannedModel } from "./plan/types.js";
export { runMerge, drainMerge, checkOutputPath, DEFAULT_SHARD_BYTES } from "./exec/run.js";
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
