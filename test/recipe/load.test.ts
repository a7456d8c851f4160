import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RecipeError } from "../../src/errors.js";
import { loadRecipe, parseRecipe } from "../../src/recipe/load.js";
import { caught } from "../helpers/errors.js";
import { SPEC_CONFIGS as CONFIGS } from "../helpers/recipes.js";

/** Runs `fn`, expecting a RecipeError; returns it. */
const recipeError = (fn: () => unknown): RecipeError => caught(fn, RecipeError);

const TIES_HEAD = `merge_method: ties
base_model: base
`;

describe("parseRecipe: verbatim mergekit and BioMistral configs", () => {
	it.each(Object.keys(CONFIGS))("%s parses", (name) => {
		const r = parseRecipe(CONFIGS[name]!, `${name}.yml`);
		expect(r.text).toBe(CONFIGS[name]);
		expect(r.file).toBe(`${name}.yml`);
		expect((r.models === undefined) !== (r.slices === undefined)).toBe(true);
	});

	it("BioMistral SLERP: slices, base, the t filter list, bfloat16", () => {
		const r = parseRecipe(CONFIGS["biomistral-slerp"]!);
		expect(r.mergeMethod).toBe("slerp");
		expect(r.baseModel).toBe("mistralai/Mistral-7B-Instruct-v0.1");
		expect(r.dtype).toBe("BF16");
		expect(r.models).toBeUndefined();
		expect(r.slices).toHaveLength(1);
		const [a, b] = r.slices![0]!.sources;
		expect(a).toEqual({ model: "mistralai/Mistral-7B-Instruct-v0.1", layerRange: [0, 32], parameters: {}, path: "slices[0].sources[0]" });
		expect(b!.model).toBe("Project44/BioMistral-7B-0.1-PubMed-V2");
		expect(r.slices![0]!.path).toBe("slices[0]");
		expect(r.parameters.t).toEqual({
			path: "parameters.t",
			setting: [{ filter: "self_attn", value: [0, 0.5, 0.3, 0.7, 1] }, { filter: "mlp", value: [1, 0.5, 0.7, 0.3, 0] }, { value: 0.5 }],
		});
	});

	it("BioMistral TIES: per-model parameters keep their paths", () => {
		const r = parseRecipe(CONFIGS["biomistral-ties"]!);
		expect(r.models!.map((m) => m.path)).toEqual(["models[0]", "models[1]"]);
		expect(r.models![0]!.parameters).toEqual({});
		expect(r.models![1]!.parameters).toEqual({
			density: { setting: 0.5, path: "models[1].parameters.density" },
			weight: { setting: 0.5, path: "models[1].parameters.weight" },
		});
		expect(r.parameters).toEqual({ normalize: { setting: true, path: "parameters.normalize" } });
		expect(r.slices).toBeUndefined();
	});

	it("BioMistral DARE: a model with only a comment has no parameters", () => {
		const r = parseRecipe(CONFIGS["biomistral-dare"]!);
		expect(r.mergeMethod).toBe("dare_ties");
		expect(r.models![0]).toEqual({ model: "mistralai/Mistral-7B-Instruct-v0.1", parameters: {}, path: "models[0]" });
		expect(r.parameters.int8_mask!.setting).toBe(true);
	});

	it("ties.yml: gradients and filter lists per model", () => {
		const r = parseRecipe(CONFIGS.ties!);
		expect(r.models![0]!.parameters.density!.setting).toEqual([1, 0.7, 0.1]);
		expect(r.models![1]!.parameters.weight!.setting).toEqual([0, 0.3, 0.7, 1]);
		expect(r.models![2]!.parameters.weight).toEqual({
			setting: [{ filter: "mlp", value: 0.5 }, { value: 0 }],
			path: "models[2].parameters.weight",
		});
		expect(r.dtype).toBe("F16");
	});

	it("orcamini-platy: two passthrough slices, no base model", () => {
		const r = parseRecipe(CONFIGS["orcamini-platy-44layer"]!);
		expect(r.baseModel).toBeUndefined();
		expect(r.slices!.map((s) => s.sources.map((x) => x.layerRange))).toEqual([[[0, 24]], [[20, 40]]]);
	});
});

describe("parseRecipe: accepted forms and our extensions", () => {
	it("extensions, tokenizer, chat template, out_dtype", () => {
		const r = parseRecipe(`${TIES_HEAD}models:
  - model: a
    parameters: {weight: -0.5, density: 1}
seed: 42
truncate_vocab: true
compat: mergekit
name: my-merge
out_dtype: torch.float16
tokenizer_source: base
chat_template: "{% for m in messages %}{{ m.content }}{% endfor %}"
`);
		expect(r.seed).toBe(42);
		expect(r.allowVocabTruncation).toBe(true);
		expect(r.compat).toBe("mergekit");
		expect(r.name).toBe("my-merge");
		expect(r.outDtype).toBe("F16");
		expect(r.dtype).toBeUndefined();
		expect(r.tokenizerSource).toBe("base");
		expect(r.tokenizer).toBeUndefined();
		expect(r.chatTemplate).toBe("{% for m in messages %}{{ m.content }}{% endfor %}");
		expect(r.models![0]!.parameters.weight!.setting).toBe(-0.5);
	});

	it("tokenizer_source union and model:X; the tokenizer block's union default, tokens and padding", () => {
		expect(parseRecipe(`merge_method: linear\n${MODELS_A}tokenizer_source: union\n`).tokenizerSource).toBe("union");
		expect(parseRecipe(`merge_method: linear\n${MODELS_A}tokenizer_source: model:org/x\n`).tokenizerSource).toBe("org/x");
		const r = parseRecipe(`merge_method: linear
${MODELS_A}tokenizer:
  pad_to_multiple_of: 64
  tokens:
    "<|im_start|>": {source: chatml, force: true}
    "<|im_end|>": {source: {kind: model_token, model: a, token: "</s>"}}
    "<x>": {source: {kind: model_token, model: a, token_id: 5}}
    "<z>": {source: {kind: zero}}
`);
		expect(r.tokenizerSource).toBe("union");
		expect(r.tokenizer).toEqual({
			source: "union",
			padToMultipleOf: 64,
			tokens: [
				{ token: "<|im_start|>", source: { kind: "model", model: "chatml" }, force: true, path: 'tokenizer.tokens["<|im_start|>"]' },
				{
					token: "<|im_end|>",
					source: { kind: "model_token", model: "a", token: "</s>" },
					force: false,
					path: 'tokenizer.tokens["<|im_end|>"]',
				},
				{ token: "<x>", source: { kind: "model_token", model: "a", tokenId: 5 }, force: false, path: 'tokenizer.tokens["<x>"]' },
				{ token: "<z>", source: { kind: "zero" }, force: false, path: 'tokenizer.tokens["<z>"]' },
			],
		});
	});

	it("random_seed, the tokenizer block, step lists, strings, null blocks, residual_weight, aliases", () => {
		const r = parseRecipe(`merge_method: dare_ties
base_model: base
random_seed: 7
tokenizer:
  source: model-b
parameters: &p
  rescale: inverse_density
  int8_mask: [true, false]
slices:
  - sources:
      - model: a
        layer_range: [0, 2]
        parameters:
      - model: b
        layer_range: [2, 4]
    parameters: *p
    residual_weight: 0.1
`);
		expect(r.seed).toBe(7);
		expect(r.tokenizer).toEqual({ source: "model-b", tokens: [] });
		expect(r.tokenizerSource).toBe("model-b");
		expect(r.parameters.rescale!.setting).toBe("inverse_density");
		expect(r.parameters.int8_mask!.setting).toEqual([true, false]);
		expect(r.slices![0]!.sources[0]!.parameters).toEqual({});
		expect(r.slices![0]!.parameters.rescale).toEqual({ setting: "inverse_density", path: "slices[0].parameters.rescale" });
	});

	it("loadRecipe reads a file, or text with isText", async () => {
		const dir = await mkdtemp(join(tmpdir(), "lm-merge-recipe-"));
		try {
			const file = join(dir, "r.yml");
			await writeFile(file, CONFIGS["biomistral-ties"]!);
			const r = await loadRecipe(file);
			expect(r.file).toBe(file);
			expect(r.mergeMethod).toBe("ties");
			const t = await loadRecipe(CONFIGS["biomistral-dare"]!, { isText: true });
			expect(t.file).toBeUndefined();
			expect(t.mergeMethod).toBe("dare_ties");
			const missing = await loadRecipe(join(dir, "nope.yml")).catch((e: unknown) => e);
			expect(missing).toBeInstanceOf(RecipeError);
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	});
});

const ALIAS_BOMB = `a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
merge_method: linear
`;

const MODELS_A = `models:
  - model: a
`;

/** [case, YAML, kind, path] */
const ERROR_CASES: [string, string, string, string][] = [
	[
		"duplicate key",
		`${TIES_HEAD}models:\n  - model: a\n    parameters:\n      weight: 1\n      weight: 2\n`,
		"Yaml",
		"models[0].parameters.weight",
	],
	["!!python/object tag", `merge_method: linear\nbase_model: !!python/object:os.system x\n${MODELS_A}`, "Yaml", "base_model"],
	["local custom tag", `merge_method: linear\n${MODELS_A}parameters:\n  weight: !w 1\n`, "Yaml", "parameters.weight"],
	["alias bomb", ALIAS_BOMB, "Yaml", ""],
	["YAML syntax error", `merge_method: [linear\n`, "Yaml", ""],
	["several documents (mergekit-multi)", `merge_method: linear\n${MODELS_A}---\nmerge_method: ties\n`, "Unsupported", ""],
	[
		"both models and slices",
		`merge_method: linear\n${MODELS_A}slices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n`,
		"Schema",
		"slices",
	],
	["neither models nor slices", `merge_method: linear\n`, "Schema", ""],
	["missing merge_method", MODELS_A, "Schema", "merge_method"],
	["empty recipe", `# nothing\n`, "Schema", ""],
	["a list at the root", `- merge_method: linear\n`, "Schema", ""],
	[
		".nan weight",
		`${TIES_HEAD}models:\n  - model: a\n  - model: b\n    parameters:\n      weight: .nan\n`,
		"Value",
		"models[1].parameters.weight",
	],
	[
		".inf in a gradient",
		`merge_method: slerp\n${MODELS_A}parameters:\n  t:\n    - filter: mlp\n      value: [0, 0.5, .inf]\n`,
		"Value",
		"parameters.t[0].value[2]",
	],
	["quoted .nan", `merge_method: linear\n${MODELS_A}parameters:\n  weight: ".NaN"\n`, "Value", "parameters.weight"],
	[
		"number written as a string",
		`${TIES_HEAD}models:\n  - model: a\n    parameters:\n      density: "0.5"\n`,
		"Schema",
		"models[0].parameters.density",
	],
	[
		"string in layer_range",
		`merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, "32"]\n`,
		"Schema",
		"slices[0].sources[0].layer_range[1]",
	],
	["string seed", `merge_method: linear\n${MODELS_A}seed: abc\n`, "Schema", "seed"],
	["negative seed", `merge_method: linear\n${MODELS_A}seed: -1\n`, "Value", "seed"],
	["fractional seed", `merge_method: linear\n${MODELS_A}seed: 1.5\n`, "Value", "seed"],
	["seed and random_seed", `merge_method: linear\n${MODELS_A}seed: 1\nrandom_seed: 2\n`, "Schema", "random_seed"],
	["empty gradient", `${TIES_HEAD}models:\n  - model: a\n    parameters:\n      density: []\n`, "Value", "models[0].parameters.density"],
	[
		"empty filter value",
		`merge_method: slerp\n${MODELS_A}parameters:\n  t:\n    - filter: mlp\n      value: []\n`,
		"Value",
		"parameters.t[0].value",
	],
	["null parameter", `merge_method: linear\n${MODELS_A}parameters:\n  weight:\n`, "Schema", "parameters.weight"],
	["mixed list", `merge_method: linear\n${MODELS_A}parameters:\n  weight: [0, true]\n`, "Schema", "parameters.weight[1]"],
	[
		"nested filter lists",
		`merge_method: linear\n${MODELS_A}parameters:\n  weight:\n    - value:\n        - value: 1\n`,
		"Schema",
		"parameters.weight[0].value[0]",
	],
	[
		"filter entry without value",
		`merge_method: linear\n${MODELS_A}parameters:\n  weight:\n    - filter: mlp\n`,
		"Schema",
		"parameters.weight[0]",
	],
	[
		"filter entry with unknown key",
		`merge_method: linear\n${MODELS_A}parameters:\n  weight:\n    - filtr: mlp\n      value: 1\n`,
		"Schema",
		"parameters.weight[0].filtr",
	],
	[
		"numeric filter",
		`merge_method: linear\n${MODELS_A}parameters:\n  weight:\n    - filter: 3\n      value: 1\n`,
		"Schema",
		"parameters.weight[0].filter",
	],
	[
		"lone filter mapping",
		`merge_method: linear\n${MODELS_A}parameters:\n  weight: {filter: mlp, value: 1}\n`,
		"Schema",
		"parameters.weight",
	],
	["bad dtype", `merge_method: linear\n${MODELS_A}dtype: float8\n`, "Value", "dtype"],
	["bad out_dtype type", `merge_method: linear\n${MODELS_A}out_dtype: 16\n`, "Schema", "out_dtype"],
	[
		"layer_range start >= end",
		`merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [32, 0]\n`,
		"Value",
		"slices[0].sources[0].layer_range",
	],
	[
		"layer_range of one value",
		`merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [3]\n`,
		"Schema",
		"slices[0].sources[0].layer_range",
	],
	[
		"negative layer index",
		`merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [-1, 3]\n`,
		"Value",
		"slices[0].sources[0].layer_range[0]",
	],
	[
		"fractional layer index",
		`merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2.5]\n`,
		"Value",
		"slices[0].sources[0].layer_range[1]",
	],
	[
		"missing layer_range",
		`merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n`,
		"Schema",
		"slices[0].sources[0].layer_range",
	],
	["empty models list", `merge_method: linear\nmodels: []\n`, "Value", "models"],
	["empty sources list", `merge_method: linear\nslices:\n  - sources: []\n`, "Value", "slices[0].sources"],
	["bare string model", `${TIES_HEAD}models:\n  - model: a\n  - b\n`, "Schema", "models[1]"],
	["empty model reference", `merge_method: linear\nmodels:\n  - model: ""\n`, "Value", "models[0].model"],
	["unknown model key", `merge_method: linear\nmodels:\n  - model: a\n    paramters: {weight: 1}\n`, "Schema", "models[0].paramters"],
	["unknown top-level key", `merge_method: linear\n${MODELS_A}base_models: x\n`, "Schema", "base_models"],
	[
		"token entry without source",
		`merge_method: linear\n${MODELS_A}tokenizer:\n  tokens:\n    "<x>": {force: true}\n`,
		"Schema",
		'tokenizer.tokens["<x>"]',
	],
	[
		"token entry with a typo",
		`merge_method: linear\n${MODELS_A}tokenizer:\n  tokens:\n    "<x>": {sorce: a}\n`,
		"Schema",
		'tokenizer.tokens["<x>"].sorce',
	],
	[
		"model_token with token and token_id",
		`merge_method: linear\n${MODELS_A}tokenizer:\n  tokens:\n    "<x>": {source: {kind: model_token, model: a, token: b, token_id: 3}}\n`,
		"Schema",
		'tokenizer.tokens["<x>"].source',
	],
	[
		"model_token with neither",
		`merge_method: linear\n${MODELS_A}tokenizer:\n  tokens:\n    "<x>": {source: {kind: model_token, model: a}}\n`,
		"Schema",
		'tokenizer.tokens["<x>"].source',
	],
	[
		"pad_to_multiple_of not an integer",
		`merge_method: linear\n${MODELS_A}tokenizer:\n  pad_to_multiple_of: 2.5\n`,
		"Value",
		"tokenizer.pad_to_multiple_of",
	],
	[
		"pad_to_multiple_of zero",
		`merge_method: linear\n${MODELS_A}tokenizer:\n  pad_to_multiple_of: 0\n`,
		"Value",
		"tokenizer.pad_to_multiple_of",
	],
	[
		"tokenizer and tokenizer_source",
		`merge_method: linear\n${MODELS_A}tokenizer_source: base\ntokenizer:\n  source: base\n`,
		"Schema",
		"tokenizer",
	],
	["modules", `merge_method: linear\nmodules:\n  text:\n    models:\n      - model: a\n`, "Unsupported", "modules"],
	["bad compat", `merge_method: linear\n${MODELS_A}compat: torch\n`, "Value", "compat"],
	["non-boolean truncate_vocab", `merge_method: linear\n${MODELS_A}truncate_vocab: 1\n`, "Schema", "truncate_vocab"],
];

describe("parseRecipe: errors name the kind and the YAML path", () => {
	it.each(ERROR_CASES)("%s", (_, yaml, kind, path) => {
		const e = recipeError(() => parseRecipe(yaml, "r.yml"));
		expect({ kind: e.kind, path: e.path }).toEqual({ kind, path });
		expect(e.file).toBe("r.yml");
		expect(e.message).not.toContain("\n");
	});

	it("messages give the value and the line", () => {
		const e = recipeError(() => parseRecipe(`${TIES_HEAD}models:\n  - model: a\n  - model: b\n    parameters:\n      weight: .nan\n`));
		expect(e.message).toContain(".nan");
		expect(e.message).toContain("line 7");
	});

	it("unknown keys suggest the nearest known key", () => {
		const e = recipeError(() => parseRecipe(`merge_method: linear\n${MODELS_A}base_models: x\n`));
		expect(e.message).toContain('"base_model"');
	});

	it("reports the problem that comes first in the file", () => {
		const e = recipeError(() =>
			parseRecipe(
				`merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: .nan}\n` +
					`  - model: b\n    parameters: {weight: []}\ndtype: float8\n`,
			),
		);
		expect(e.path).toBe("models[0].parameters.weight");
	});

	it("a few aliases are fine; the bound is on expansions", () => {
		const r = parseRecipe(
			`merge_method: linear\nmodels:\n  - model: a\n    parameters: &p {weight: 0.5}\n  - model: b\n    parameters: *p\n`,
		);
		expect(r.models![1]!.parameters.weight).toEqual({ setting: 0.5, path: "models[1].parameters.weight" });
	});

	it("absurdly deep nesting is a YAML error, not a crash", () => {
		const deep = `merge_method: linear\n${MODELS_A}parameters:\n  w: ${"[".repeat(2000)}1${"]".repeat(2000)}\n`;
		expect(recipeError(() => parseRecipe(deep)).kind).toBe("Yaml");
	});

	it("a 10,000-value gradient parses", () => {
		const values = Array.from({ length: 10_000 }, (_, i) => (i % 100) / 100);
		const r = parseRecipe(`merge_method: slerp\n${MODELS_A}parameters:\n  t: [${values.join(", ")}]\n`);
		expect(r.parameters.t!.setting).toHaveLength(10_000);
	});
});
