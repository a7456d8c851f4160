/** Test-side entry point for the tiny-model fixtures (the generators live in src/fixtures/). */
export { writeHfCacheModel, type HfCacheModel, type HfCacheModelOptions } from "../../src/fixtures/hf-cache-model.js";
export { DEFAULT_DELTA, writeTinyMistral, writeTinyPair, type TinyMistralOptions, type TinyModel } from "../../src/fixtures/tiny-model.js";
export { TINY_TOKENIZER_VOCAB, tinyTokenizerFiles } from "../../src/fixtures/tiny-tokenizer.js";
export { writeTinyArchitecture, type TinyArchitectureOptions } from "../../src/fixtures/tiny-architecture.js";
