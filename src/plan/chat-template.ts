import path from "node:path";
import { Template } from "@huggingface/jinja";
import { BUILTIN_CHAT_TEMPLATES, chatTemplateText } from "../chat-templates/builtin.js";
import { PlanError } from "../errors.js";
import { readRegularText } from "../io/regular-file.js";
import { MAX_TOKENIZER_FILE_BYTES } from "../model/tokenizer-files.js";
import type { Recipe } from "../recipe/schema.js";

async function readJson(file: string): Promise<unknown> {
	let text: string;
	try {
		text = await readRegularText(file, {
			maxBytes: MAX_TOKENIZER_FILE_BYTES,
			fail: (why) => new PlanError("TokenizerSource", `${file}: ${why}`),
		});
	} catch (err) {
		if (err instanceof PlanError) throw err;
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
		throw new PlanError("TokenizerSource", `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
	}
	try {
		return JSON.parse(text) as unknown;
	} catch (err) {
		throw new PlanError(
			"TokenizerSource",
			`${file}: not valid JSON (${(err as Error).message}); the chat template cannot be written into it`,
		);
	}
}

/** Every token string of a tokenizer.json: the added tokens and the model's vocabulary. */
function tokenStrings(json: unknown): Set<string> {
	const out = new Set<string>();
	const root = json as { added_tokens?: Array<{ content?: unknown }>; model?: { vocab?: unknown } } | null;
	for (const t of Array.isArray(root?.added_tokens) ? root.added_tokens : []) if (typeof t?.content === "string") out.add(t.content);
	const vocab = root?.model?.vocab;
	if (Array.isArray(vocab)) for (const e of vocab) if (Array.isArray(e) && typeof e[0] === "string") out.add(e[0]);
	if (vocab !== null && typeof vocab === "object" && !Array.isArray(vocab)) for (const k of Object.keys(vocab)) out.add(k);
	return out;
}

/**
 * What `run` will do with `chat_template`, checked at plan time: the tokenizer_config.json that receives the
 * template must be valid JSON (an error: `run` would fail after merging every tensor). Warnings, since the model
 * may still be what the user wants: a literal template that does not parse as Jinja, and a built-in format whose
 * markers (`<|im_start|>`) are not tokens of the output's vocabulary, so they would be split into ordinary pieces.
 */
export async function checkChatTemplate(recipe: Recipe, tokenizerDir: string, warnings: string[]): Promise<void> {
	const value = recipe.chatTemplate;
	if (value === undefined) return;
	const text = chatTemplateText(value);
	if (text === undefined) return;
	await readJson(path.join(tokenizerDir, "tokenizer_config.json"));
	const builtin = BUILTIN_CHAT_TEMPLATES.get(value);
	if (builtin === undefined) {
		try {
			new Template(text);
		} catch (err) {
			warnings.push(`chat_template does not parse as a Jinja template (${(err as Error).message}); it is written to the output as given`);
		}
		return;
	}
	if (builtin.markers.length === 0) return;
	const tokenizer = await readJson(path.join(tokenizerDir, "tokenizer.json"));
	if (tokenizer === undefined) return;
	const tokens = tokenStrings(tokenizer);
	const missing = builtin.markers.filter((m) => !tokens.has(m));
	if (missing.length > 0) {
		warnings.push(
			`chat_template ${value} uses ${missing.join(", ")}, ` +
				`which ${missing.length === 1 ? "is not a token" : "are not tokens"} of the output's tokenizer ` +
				`(${path.join(tokenizerDir, "tokenizer.json")}): they will be split into ordinary pieces; pick the format the models were trained with`,
		);
	}
}
