/**
 * `lm-merge/testing`: tiny random checkpoints for tests, examples and demos. They are real models (config.json,
 * safetensors, a tokenizer) with a few small layers, so a merge, an export or an evaluation of them runs in
 * milliseconds and exercises the same code as a 7B model.
 *
 * ```ts
 * import { writeTinyPair } from "lm-merge/testing";
 * const { base, tuned } = await writeTinyPair("tmp/models", { layers: 2, hidden: 16 });
 * ```
 *
 * @module lm-merge/testing
 */

export type { HfCacheModel, HfCacheModelOptions } from "./fixtures/hf-cache-model.js";
export { writeHfCacheModel } from "./fixtures/hf-cache-model.js";
export type { TinyArchitectureOptions } from "./fixtures/tiny-architecture.js";
export { writeTinyArchitecture } from "./fixtures/tiny-architecture.js";
export type { TinyMistralOptions, TinyModel } from "./fixtures/tiny-model.js";
export { writeTinyMistral, writeTinyPair } from "./fixtures/tiny-model.js";
