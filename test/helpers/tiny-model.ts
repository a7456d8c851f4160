/** Test-side entry point for the tiny-model fixtures (the generators live in src/fixtures/). */
export { type HfCacheModel, type HfCacheModelOptions, writeHfCacheModel } from "../../src/fixtures/hf-cache-model.js";
export { type TinyArchitectureOptions, writeTinyArchitecture } from "../../src/fixtures/tiny-architecture.js";
export { DEFAULT_DELTA, type TinyMistralOptions, type TinyModel, writeTinyMistral, writeTinyPair } from "../../src/fixtures/tiny-model.js";
export { TINY_TOKENIZER_VOCAB, tinyTokenizerFiles } from "../../src/fixtures/tiny-tokenizer.js";
