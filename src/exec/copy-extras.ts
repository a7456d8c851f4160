import path from "node:path";
import { chatTemplateText } from "../chat-templates/builtin.js";
import { ExecError, RecipeError } from "../errors.js";
import { readRegularFile } from "../io/regular-file.js";
import { MAX_TOKENIZER_FILE_BYTES, TOKENIZER_FILES } from "../model/tokenizer-files.js";
import type { MergePlan } from "../plan/types.js";

export { TOKENIZER_FILES } from "../model/tokenizer-files.js";

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
				const file = path.join(dir, name);
				files.set(
					name,
					await readRegularFile(file, { maxBytes: MAX_TOKENIZER_FILE_BYTES, fail: (why) => new ExecError("Io", `${file}: ${why}`) }),
				);
			} catch (err) {
				if (err instanceof ExecError) throw err;
				if ((err as NodeJS.ErrnoException).code !== "ENOENT" && (err as NodeJS.ErrnoException).code !== "ENOTDIR") throw err;
			}
		}
	}
	const name = plan.recipe.chatTemplate;
	if (name !== undefined && name !== "auto") {
		const tpl = chatTemplateText(name);
		if (tpl === undefined) {
			// parseRecipe refuses unknown names; this guards recipes built by hand.
			throw new RecipeError("Value", "chat_template", `unknown chat template name "${name}"`, plan.recipe.file);
		}
		files.set("chat_template.jinja", tpl);
		const cfg = files.get("tokenizer_config.json");
		if (cfg !== undefined) {
			const json = JSON.parse(typeof cfg === "string" ? cfg : new TextDecoder().decode(cfg)) as Record<string, unknown>;
			json.chat_template = tpl;
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
