/**
 * The chat templates shipped as data (issue 12, item 9): each renders the documented format of its family (expected
 * strings written by hand from those formats), recipes may name them, unknown names fail at parse time (so in
 * `merge plan`), and a merge writes the template into the output.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Template } from "@huggingface/jinja";
import { beforeAll, describe, expect, test } from "vitest";
import { BUILTIN_CHAT_TEMPLATES, chatTemplateText, isLiteralChatTemplate } from "../../src/chat-templates/builtin.js";
import { RecipeError } from "../../src/errors.js";
import { mergeModels } from "../../src/exec/merge-models.js";
import { buildPlan, closePlan } from "../../src/plan/plan.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { caught } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const CONVERSATION = [
	{ role: "system", content: "Be brief." },
	{ role: "user", content: "Hi" },
	{ role: "assistant", content: "Hello." },
	{ role: "user", content: "Why?" },
];

/** What each family's documentation says this conversation looks like, with <s> / </s> as BOS / EOS. */
const EXPECTED: Record<string, { full: string; single: string }> = {
	chatml: {
		full:
			"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n" +
			"<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n",
		single: "<|im_start|>user\nHi<|im_end|>\n",
	},
	llama3: {
		full:
			"<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhy?<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\n",
		single: "<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
	},
	mistral: {
		full: "<s>[INST] Be brief.\n\nHi [/INST] Hello.</s>[INST] Why? [/INST]",
		single: "<s>[INST] Hi [/INST]",
	},
	alpaca: {
		full: "Be brief.\n\n### Instruction:\nHi\n\n### Response:\nHello.</s>\n\n### Instruction:\nWhy?\n\n### Response:\n",
		single:
			"Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nHi\n\n",
	},
	zephyr: {
		full: "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n<|user|>\nWhy?</s>\n<|assistant|>\n",
		single: "<|user|>\nHi</s>\n",
	},
};

describe("built-in chat templates", () => {
	test("the five names mergekit users rely on are shipped", () => {
		expect([...BUILTIN_CHAT_TEMPLATES.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
	});

	test.each(Object.keys(EXPECTED))("%s renders its family's documented format", (name) => {
		const tpl = new Template(BUILTIN_CHAT_TEMPLATES.get(name)!.template);
		const vars = { bos_token: "<s>", eos_token: "</s>" };
		expect(tpl.render({ ...vars, messages: CONVERSATION, add_generation_prompt: true })).toBe(EXPECTED[name]!.full);
		expect(tpl.render({ ...vars, messages: CONVERSATION.slice(1, 2), add_generation_prompt: false })).toBe(EXPECTED[name]!.single);
	});

	test("names, literal templates and auto, by mergekit's rule", () => {
		expect(chatTemplateText("chatml")).toBe(BUILTIN_CHAT_TEMPLATES.get("chatml")!.template);
		const literal = "{% for m in messages %}{{ m.content }}{% endfor %}";
		expect(isLiteralChatTemplate(literal)).toBe(true);
		expect(chatTemplateText(literal)).toBe(literal);
		expect(chatTemplateText("auto")).toBeUndefined();
		expect(chatTemplateText("vicuna")).toBeUndefined();
	});
});

describe("chat_template in recipes, plans and merges", () => {
	const root = useTempDir("lm-merge-chat-");
	let A: string;
	let B: string;
	beforeAll(async () => {
		A = path.join(root(), "a");
		B = path.join(root(), "b");
		await writeTinyMistral(A, { seed: 1, layers: 2 });
		await writeTinyMistral(B, { seed: 2, base: A });
	});
	const recipe = (template: string) =>
		`merge_method: slerp\nbase_model: ${A}\nmodels: [{model: ${A}}, {model: ${B}}]\nparameters: {t: 0.5}\nchat_template: ${template}\n`;

	test("an unknown name fails at parse time (before any model is opened), listing the built-in names", () => {
		const err = caught(() => parseRecipe(recipe("vicuna")), RecipeError);
		expect(err.kind).toBe("Value");
		expect(err.path).toBe("chat_template");
		expect(err.message).toMatch(
			/unknown chat template name "vicuna": use auto, a built-in name \(alpaca, chatml, llama3, mistral, zephyr\)/,
		);
	});

	test("plan warns when the format's markers are not tokens of the output's vocabulary", async () => {
		const plan = await buildPlan(parseRecipe(recipe("chatml")));
		await closePlan(plan);
		expect(plan.warnings.join("\n")).toMatch(/chat_template chatml uses <\|im_start\|>, <\|im_end\|>, which are not tokens/);
		const plain = await buildPlan(parseRecipe(recipe("mistral")));
		await closePlan(plain);
		expect(plain.warnings).toEqual([]);
	});

	test("plan warns about a literal template that does not parse as Jinja", async () => {
		const plan = await buildPlan(parseRecipe(recipe(JSON.stringify("{% for m in messages %}{{ m.content }}"))));
		await closePlan(plan);
		expect(plan.warnings.join("\n")).toMatch(/chat_template does not parse as a Jinja template/);
	});

	test.each(["chatml", "llama3"])("a merge with chat_template: %s writes the template into the output", async (name) => {
		const out = path.join(root(), `out-${name}`);
		await mergeModels(parseRecipe(recipe(name)), { out, threads: 1 });
		const expected = BUILTIN_CHAT_TEMPLATES.get(name)!.template;
		expect(await readFile(path.join(out, "chat_template.jinja"), "utf8")).toBe(expected);
		const config = JSON.parse(await readFile(path.join(out, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
		expect(config.chat_template).toBe(expected);
	});
});
