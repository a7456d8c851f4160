/**
 * Valid mergekit-style recipes for the fuzzer to start from: the `models:` and `slices:` forms, every method name,
 * scalars, gradients, step lists and filter lists, optional keys (dtype, tokenizer, seed ...), written in block or
 * flow style by the `yaml` library. The loader must accept every one of them as generated.
 */
import { stringify } from "yaml";
import type { FuzzRandom } from "./random.js";

const METHODS = [
	"linear",
	"slerp",
	"nuslerp",
	"multislerp",
	"karcher",
	"task_arithmetic",
	"ties",
	"dare_ties",
	"dare_linear",
	"breadcrumbs",
	"breadcrumbs_ties",
	"della",
	"della_linear",
	"model_stock",
	"sce",
	"nearswap",
	"arcee_fusion",
	"passthrough",
	"ram",
];
const MODELS = [
	"mistralai/Mistral-7B-Instruct-v0.1",
	"BioMistral/BioMistral-7B",
	"./local/model",
	"biomistral",
	"org/name-with.dots_and-dashes",
	"模型/名前",
];
const PARAMS = [
	"weight",
	"density",
	"t",
	"epsilon",
	"lambda",
	"normalize",
	"rescale",
	"int8_mask",
	"select_topk",
	"gamma",
	"k",
	"filter_wise",
];
const FILTERS = ["self_attn", "mlp", "*", "embed_tokens", "lm_head", "layers.0.", ""];
const DTYPES = ["bfloat16", "float16", "float32", "bf16", "torch.float16"];

function scalar(r: FuzzRandom): number | boolean | string {
	const k = r.int(10);
	if (k < 6) return Math.round(r.next() * 100) / 100;
	if (k < 8) return r.chance(0.5);
	return r.pick(["inverse_density", "l1", "auto"]);
}

/** A parameter setting: scalar, gradient, step list, or a filter list ending in a fallback. */
function setting(r: FuzzRandom): unknown {
	const k = r.int(4);
	if (k === 0) return scalar(r);
	if (k === 1) return Array.from({ length: r.range(1, 5) }, () => Math.round(r.next() * 100) / 100);
	if (k === 2) return Array.from({ length: r.range(1, 4) }, () => r.chance(0.5));
	const list: unknown[] = r
		.shuffle(FILTERS)
		.slice(0, r.range(1, 3))
		.map((filter) => ({ filter, value: r.chance(0.7) ? Math.round(r.next() * 100) / 100 : [0, 0.5, 1] }));
	list.push({ value: Math.round(r.next() * 100) / 100 });
	return list;
}

function parameters(r: FuzzRandom): Record<string, unknown> | undefined {
	if (r.chance(0.3)) return undefined;
	const out: Record<string, unknown> = {};
	for (const name of r.shuffle(PARAMS).slice(0, r.range(1, 3))) out[name] = setting(r);
	return out;
}

/** A random valid recipe as a plain object (YAML keys). */
export function validRecipe(r: FuzzRandom): Record<string, unknown> {
	const recipe: Record<string, unknown> = { merge_method: r.pick(METHODS) };
	if (r.chance(0.5)) recipe.base_model = r.pick(MODELS);
	if (r.chance(0.7)) {
		recipe.models = Array.from({ length: r.range(1, 3) }, () => {
			const params = parameters(r);
			return { model: r.pick(MODELS), ...(params !== undefined ? { parameters: params } : {}) };
		});
	} else {
		recipe.slices = Array.from({ length: r.range(1, 2) }, () => ({
			sources: Array.from({ length: r.range(1, 2) }, () => {
				const start = r.int(8);
				return { model: r.pick(MODELS), layer_range: [start, start + r.range(1, 8)] };
			}),
		}));
	}
	const params = parameters(r);
	if (params !== undefined) recipe.parameters = params;
	if (r.chance(0.5)) recipe.dtype = r.pick(DTYPES);
	if (r.chance(0.2)) recipe.out_dtype = r.pick(DTYPES);
	if (r.chance(0.2)) recipe.tokenizer_source = r.pick(["base", ...MODELS]);
	if (r.chance(0.2)) recipe.seed = r.int(1000);
	if (r.chance(0.1)) recipe.compat = r.pick(["float32", "mergekit"]);
	if (r.chance(0.1)) recipe.chat_template = r.pick(["auto", "chatml", "{% for m in messages %}{{ m.content }}{% endfor %}"]);
	return recipe;
}

/** The recipe as YAML text, in block style, flow style, or mixed. */
export function recipeText(recipe: Record<string, unknown>, r: FuzzRandom): string {
	const style = r.int(3);
	if (style === 0) return stringify(recipe);
	if (style === 1) return stringify(recipe, { collectionStyle: "flow" });
	return stringify(recipe, { flowCollectionPadding: false, indent: r.pick([2, 4]), lineWidth: 0 });
}
