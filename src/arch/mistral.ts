/** Kept for imports written before the families/ folder: the Mistral and Llama definitions and the full list. */

export { LLAMA } from "./families/llama.js";
export { MISTRAL } from "./families/mistral.js";
export { ARCHITECTURES as KNOWN_ARCHITECTURES } from "./registry.js";
