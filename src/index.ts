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

export { VERSION } from "./version.js";
export { LmMergeError } from "./errors.js";

// kernels: plain functions on Float32Arrays (the math of each merge method, one tensor at a time)
export { linear } from "./methods/linear.js";
export { slerp } from "./methods/slerp.js";
export { taskArithmetic } from "./methods/task-arithmetic.js";
export { ties } from "./methods/ties.js";
export { dare } from "./methods/dare.js";
export { breadcrumbs } from "./methods/breadcrumbs.js";
export { della } from "./methods/della.js";
export { sce } from "./methods/sce.js";
export { nuslerp } from "./methods/nuslerp.js";
export { multislerp } from "./methods/multislerp.js";
export { karcher } from "./methods/karcher.js";
export { modelStock } from "./methods/model-stock.js";
export { nearswap } from "./methods/nearswap.js";
export { arceeFusion } from "./methods/arcee-fusion.js";
export { ram } from "./methods/ram.js";

// merge methods: defining your own, the built-in list, registries
export { defineMethod } from "./methods/define.js";
export type { MethodSpec } from "./methods/define.js";
export { BUILTIN_METHODS, createRegistry } from "./methods/registry.js";
export type { MergeMethod, ParamSpec, MergeInput } from "./methods/types.js";

// merging models: recipe in, output folder out, progress as events
export { mergeModels, mergeModelsIter } from "./exec/merge-models.js";
export type { MergeModelsOptions, RecipeInput } from "./exec/merge-models.js";
export type { MergeEvent, MergeResult } from "./exec/events.js";

// recipes and plans: the two halves of mergeModels, for callers who inspect the plan before running it
export { loadRecipe, parseRecipe } from "./recipe/load.js";
export type { Recipe } from "./recipe/schema.js";
export { buildPlan, closePlan } from "./plan/plan.js";
export type { PlanOptions } from "./plan/plan.js";
export type { MergePlan } from "./plan/types.js";
export { runMerge } from "./exec/run.js";
export type { RunOptions } from "./exec/run.js";

// models and safetensors files
export { openModel } from "./model/model-dir.js";
export type { ModelSource } from "./model/model-source.js";
export { resolveModelRef } from "./model/refs.js";
export { openSafetensors } from "./io/reader.js";
export type { SafetensorsFile } from "./io/reader.js";
export { numel, formatShape } from "./tensor/tensor.js";
export type { Tensor } from "./tensor/tensor.js";
export type { Dtype } from "./io/dtypes.js";

// the evaluator (the BioMistral protocol)
export { evaluate, evaluateIter } from "./eval/evaluate.js";
export type { EvaluateOptions } from "./eval/evaluate.js";
export type { EvalReport, EvalEvent, TaskName } from "./eval/types.js";
export { TASK_NAMES } from "./eval/tasks/registry.js";
export { renderMarkdown } from "./eval/report.js";

// GGUF export for llama.cpp
export { exportGguf, exportGgufIter } from "./gguf/export.js";
export type { ExportGgufOptions, ExportGgufResult } from "./gguf/export.js";
export type { GgufExportType } from "./gguf/mix.js";
export { openGguf } from "./gguf/reader.js";

// the Hugging Face Hub: downloads into the shared cache, uploads
export { downloadSnapshot } from "./hub/download.js";
export type { DownloadOptions } from "./hub/download.js";
export { uploadFolder } from "./hub/upload.js";
export type { UploadOptions } from "./hub/upload.js";

// other formats: PyTorch .bin → safetensors, LoRA adapters
export { convertModel } from "./exec/convert-model.js";
export { extractLoraAdapter } from "./lora/extract-folder.js";
export { openModelWithAdapter } from "./lora/open.js";

// sweeps: merge → score loops, locally or through a queue
export { loadSweep } from "./sweep/spec.js";
export type { SweepSpec } from "./sweep/spec.js";
export { runSweepLocal } from "./sweep/local.js";
export { runSweepQueued } from "./sweep/queue.js";
export { startWorker } from "./sweep/worker.js";
export type { SweepEvent } from "./sweep/events.js";

// reports: sweep and evaluation results as an HTML page
export { readReportData } from "./sweep/report-source.js";
export { renderReportHtml } from "./report/html.js";

// merge backends
export { createTfjsBackend } from "./backends/tfjs.js";
export type { Backend } from "./backends/types.js";
