/**
 * lm-merge: merge LLM checkpoints stored as safetensors (SLERP, TIES, DARE and the rest of mergekit's methods) and
 * score the result on medical multiple-choice QA.
 *
 * ```ts
 * import { mergeModels, evaluate, renderMarkdown } from "lm-merge";
 * await mergeModels("merges/biomistral-slerp.yml", { out: "merged/slerp", onEvent: (e) => console.log(e.event) });
 * console.log(renderMarkdown(await evaluate({ models: ["merged/slerp"], data: "data/", tasks: ["medqa"] })));
 * ```
 *
 * This entry is the whole supported API, kept small on purpose (at most 80 names): merging, the kernels on typed
 * arrays, recipes and plans, the evaluator, GGUF export, the Hub, sweeps and reports. Tiny test checkpoints are in
 * `lm-merge/testing`, every error class and kind in `lm-merge/errors`. The types under `<internal>` are shapes these
 * functions take or return (options, results, events) that are not exported by name: write them as object
 * literals, or name them with `Parameters<typeof fn>` / `Awaited<ReturnType<typeof fn>>`. Anything else in the
 * package is internal and may change between releases.
 *
 * @module lm-merge
 */

// The public API: explicit named exports only, grouped by what users do. test/public-api.test.ts holds it to 80
// names; the CLI imports the library's modules directly, so a name belongs here only if users need it.

// merge backends
export { createTfjsBackend } from "./backends/tfjs.js";
export type { Backend } from "./backends/types.js";
export { LmMergeError } from "./errors.js";
export type { EvaluateOptions } from "./eval/evaluate.js";
// the evaluator (the BioMistral protocol)
export { evaluate, evaluateIter } from "./eval/evaluate.js";
export { renderMarkdown } from "./eval/report.js";
export { TASK_NAMES } from "./eval/tasks/registry.js";
export type { EvalEvent, EvalReport, TaskName } from "./eval/types.js";
// other formats: PyTorch .bin → safetensors, LoRA adapters
export { convertModel } from "./exec/convert-model.js";
export type { MergeEvent, MergeResult } from "./exec/events.js";
export type { MergeModelsOptions, RecipeInput } from "./exec/merge-models.js";
// merging models: recipe in, output folder out, progress as events
export { mergeModels, mergeModelsIter } from "./exec/merge-models.js";
export type { RunOptions } from "./exec/run.js";
export { runMerge } from "./exec/run.js";
export type { ExportGgufOptions, ExportGgufResult } from "./gguf/export.js";
// GGUF export for llama.cpp
export { exportGguf, exportGgufIter } from "./gguf/export.js";
export type { GgufExportType } from "./gguf/mix.js";
export { openGguf } from "./gguf/reader.js";
export type { DownloadOptions } from "./hub/download.js";
// the Hugging Face Hub: downloads into the shared cache, uploads
export { downloadSnapshot } from "./hub/download.js";
export type { UploadOptions } from "./hub/upload.js";
export { uploadFolder } from "./hub/upload.js";
export type { Dtype } from "./io/dtypes.js";
export type { SafetensorsFile } from "./io/reader.js";
export { openSafetensors } from "./io/reader.js";
export { extractLoraAdapter } from "./lora/extract-folder.js";
export { openModelWithAdapter } from "./lora/open.js";
export { arceeFusion } from "./methods/arcee-fusion.js";
export { breadcrumbs } from "./methods/breadcrumbs.js";
export { dare } from "./methods/dare.js";
export type { MethodSpec } from "./methods/define.js";
// merge methods: defining your own, the built-in list, registries
export { defineMethod } from "./methods/define.js";
export { della } from "./methods/della.js";
export { karcher } from "./methods/karcher.js";
// kernels: plain functions on Float32Arrays (the math of each merge method, one tensor at a time)
export { linear } from "./methods/linear.js";
export { modelStock } from "./methods/model-stock.js";
export { multislerp } from "./methods/multislerp.js";
export { nearswap } from "./methods/nearswap.js";
export { nuslerp } from "./methods/nuslerp.js";
export { ram } from "./methods/ram.js";
export { BUILTIN_METHODS, createRegistry } from "./methods/registry.js";
export { sce } from "./methods/sce.js";
export { slerp } from "./methods/slerp.js";
export { taskArithmetic } from "./methods/task-arithmetic.js";
export { ties } from "./methods/ties.js";
export type { MergeInput, MergeMethod, ParamSpec } from "./methods/types.js";
// models and safetensors files
export { openModel } from "./model/model-dir.js";
export type { ModelSource } from "./model/model-source.js";
export { resolveModelRef } from "./model/refs.js";
export type { PlanOptions } from "./plan/plan.js";
export { buildPlan, closePlan } from "./plan/plan.js";
export type { MergePlan } from "./plan/types.js";
// recipes and plans: the two halves of mergeModels, for callers who inspect the plan before running it
export { loadRecipe, parseRecipe } from "./recipe/load.js";
export type { Recipe } from "./recipe/schema.js";
export { renderReportHtml } from "./report/html.js";
export type { SweepEvent } from "./sweep/events.js";
export { runSweepLocal } from "./sweep/local.js";
export { runSweepQueued } from "./sweep/queue.js";
// reports: sweep and evaluation results as an HTML page
export { readReportData } from "./sweep/report-source.js";
export type { SweepSpec } from "./sweep/spec.js";
// sweeps: merge → score loops, locally or through a queue
export { loadSweep } from "./sweep/spec.js";
export { startWorker } from "./sweep/worker.js";
export type { Tensor } from "./tensor/tensor.js";
export { formatShape, numel } from "./tensor/tensor.js";
export { VERSION } from "./version.js";
