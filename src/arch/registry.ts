import { BAICHUAN } from "./families/baichuan.js";
import { COHERE } from "./families/cohere.js";
import { EXAONE, EXAONE4 } from "./families/exaone.js";
import { FALCON, FALCON_REFINEDWEB } from "./families/falcon.js";
import { GEMMA } from "./families/gemma.js";
import { GEMMA2 } from "./families/gemma2.js";
import { GEMMA3 } from "./families/gemma3.js";
import { GPT_NEOX } from "./families/gpt-neox.js";
import { GPT2 } from "./families/gpt2.js";
import { GPTJ } from "./families/gptj.js";
import { GRANITE } from "./families/granite.js";
import { INTERNLM2 } from "./families/internlm2.js";
import { LLAMA } from "./families/llama.js";
import { MISTRAL } from "./families/mistral.js";
import { MIXTRAL } from "./families/mixtral.js";
import { OLMO2 } from "./families/olmo2.js";
import { PHI } from "./families/phi.js";
import { PHI3 } from "./families/phi3.js";
import { QWEN2 } from "./families/qwen2.js";
import { QWEN3 } from "./families/qwen3.js";
import { STABLELM } from "./families/stablelm.js";
import { STARCODER2 } from "./families/starcoder2.js";
import type { ArchitectureSpec } from "./types.js";

/**
 * Every architecture lm-merge knows by name, in lookup order: the single explicit list (no folder scanning). To add a
 * family, write `families/<name>.ts` from its transformers modeling/configuration files and add it here.
 */
export const ARCHITECTURES: readonly ArchitectureSpec[] = [
	MISTRAL,
	LLAMA,
	MIXTRAL,
	QWEN2,
	QWEN3,
	GEMMA,
	GEMMA2,
	GEMMA3,
	PHI3,
	PHI,
	GPT2,
	GPT_NEOX,
	GPTJ,
	FALCON,
	FALCON_REFINEDWEB,
	STABLELM,
	STARCODER2,
	COHERE,
	GRANITE,
	OLMO2,
	INTERNLM2,
	BAICHUAN,
	EXAONE,
	EXAONE4,
];

/** An architecture by its short name ("gpt2"), or undefined. */
export function architectureByName(name: string): ArchitectureSpec | undefined {
	return ARCHITECTURES.find((a) => a.name === name);
}
