import { ALPACA } from "./alpaca.js";
import { CHATML } from "./chatml.js";
import { LLAMA3 } from "./llama3.js";
import { MISTRAL } from "./mistral.js";
import { ZEPHYR } from "./zephyr.js";

/** A chat template shipped with lm-merge, selected in a recipe by name (`chat_template: chatml`). */
interface BuiltinChatTemplate {
	name: string;
	/** Jinja text in the Hugging Face chat-template convention (`messages`, `add_generation_prompt`, `bos_token`, `eos_token`). */
	template: string;
	/** Markers the format expects to be single tokens of the vocabulary (checked by the planner, warned about). */
	markers: readonly string[];
}

/** The built-in names mergekit users rely on, one data file each (written from each family's documented format). */
export const BUILTIN_CHAT_TEMPLATES: ReadonlyMap<string, BuiltinChatTemplate> = new Map(
	[ALPACA, CHATML, LLAMA3, MISTRAL, ZEPHYR].map((t) => [t.name, t]),
);

/** A literal template rather than a name, by mergekit's rule: at least 20 characters and a `{`. */
export function isLiteralChatTemplate(value: string): boolean {
	return value.length >= 20 && value.includes("{");
}

/**
 * The Jinja text a recipe's `chat_template` stands for: a built-in template's text, a literal template itself, or
 * undefined for "auto" (keep the tokenizer source's own template) and for names that are not built in.
 */
export function chatTemplateText(value: string): string | undefined {
	if (value === "auto") return undefined;
	const builtin = BUILTIN_CHAT_TEMPLATES.get(value);
	if (builtin !== undefined) return builtin.template;
	return isLiteralChatTemplate(value) ? value : undefined;
}
