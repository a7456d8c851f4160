import fs from "node:fs/promises";
import path from "node:path";
import { RecipeError } from "../errors.js";
import type { MergePlan } from "../plan/types.js";

/** Tokenizer and generation files copied from the tokenizer source when present (mergekit's list). */
export const TOKENIZER_FILES = [
	"tokenizer_config.json",
	"special_tokens_map.json",
	"tokenizer.json",
	"tokenizer.model",
	"added_tokens.json",
	"vocab.json",
	"merges.txt",
	"chat_template.jinja",
	"chat_template.json",
	"generation_config.json",
] as const;

/** A literal Jinja template (as mergekit decides: at least 20 characters and a `{`). */
function isLiteralTemplate(s: string): boolean {
	return s.length >= 20 && s.includes("{");
}

/** The extra files of the output folder, name → contents: tokenizer files, chat template override. */
export async function tokenizerFiles(plan: MergePlan): Promise<Map<string, Uint8Array | string>> {
	const files = new Map<string, Uint8Array | string>();
	const dir = plan.tokenizerDir;
	if (dir !== undefined) {
		for (const name of TOKENIZER_FILES) {
			// A rebuilt vocabulary (tokenizer_source union, base, a model, tokens:) replaces some files and drops stale ones.
			if (plan.vocab?.omit.includes(name) === true) continue;
			const rebuilt = plan.vocab?.files?.get(name);
			if (rebuilt !== undefined) {
				files.set(name, rebuilt);
				continue;
			}
			try {
				files.set(name, await fs.readFile(path.join(dir, name)));
			} catch (err) {
				if ((err as NodeJS.ErrnoException).code !== "ENOENT" && (err as NodeJS.ErrnoException).code !== "ENOTDIR") throw err;
			}
		}
	}
	const tpl = plan.recipe.chatTemplate;
	if (tpl !== undefined && tpl !== "auto") {
		if (!isLiteralTemplate(tpl)) {
			throw new RecipeError(
				"Unsupported",
				"chat_template",
				`built-in template names such as "${tpl}" are not bundled; give the Jinja template text itself`,
				plan.recipe.file,
			);
		}
		files.set("chat_template.jinja", tpl);
		const cfg = files.get("tokenizer_config.json");
		if (cfg !== undefined) {
			const json = JSON.parse(typeof cfg === "string" ? cfg : new TextDecoder().decode(cfg)) as Record<string, unknown>;
			json["chat_template"] = tpl;
			files.set("tokenizer_config.json", `${JSON.stringify(json, null, 2)}\n`);
		}
	}
	return files;
}

/** README.md model card: front matter, method, models, and the recipe (default: the plan's recipe text). */
export function modelCard(plan: MergePlan, title: string, version: string, recipeText: string = plan.recipe.text): string {
	const m = plan.method;
	const refs = plan.models.map((x) => x.ref);
	const hubIds = refs.filter((r) => /^[\w.-]+\/[\w.-]+(@[\w.-]+)?$/.test(r) && !r.startsWith("."));
	const base = plan.baseModel !== undefined ? plan.models[plan.baseModel]!.ref : undefined;
	const link = m.referenceUrl !== undefined ? `[${m.prettyName}](${m.referenceUrl})` : m.prettyName;
	const lines = [
		"---",
		...(hubIds.length > 0 ? ["base_model:", ...hubIds.map((r) => `- ${r}`)] : []),
		"library_name: transformers",
		"tags:",
		"- lm-merge",
		"- merge",
		"---",
		`# ${title}`,
		"",
		`This model was merged with [lm-merge](https://www.npmjs.com/package/lm-merge) ${version}.`,
		"",
		"## Merge details",
		"",
		`Method: ${link}${base !== undefined && m.name !== "slerp" ? `, with \`${base}\` as the base` : ""}.`,
		"",
		"Models merged:",
		...refs.map((r) => `- \`${r}\``),
		"",
		`Seed: ${plan.seed}. Output dtype: ${plan.outDtype ?? "as the inputs"}.`,
		"",
		"## Recipe",
		"",
		"```yaml",
		recipeText.trimEnd(),
		"```",
		"",
	];
	return lines.join("\n");
}
