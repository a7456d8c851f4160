import path from "node:path";
import { stringify } from "yaml";
import type { Argv, CommandModule } from "yargs";
import { UsageError } from "../../errors.js";
import { parseDtypeName, torchDtypeName } from "../../io/dtypes.js";
import { BUILTIN_METHODS } from "../../methods/registry.js";
import type { MergeMethod, ParamDef } from "../../methods/types.js";
import { expandAlias } from "../../model/refs.js";
import { parseRecipe } from "../../recipe/load.js";
import { flagName, labelFlagOrigins } from "../flag-origins.js";
import { executeMerge, type MergeFlags, withMergeFlags } from "../merge-flags.js";
import type { Io } from "../output.js";

type Args = MergeFlags & Record<string, unknown>;

const kebab = (s: string) => s.replace(/_/g, "-");

/** Methods with a base and exactly one other model also take `--a BASE --b OTHER` (slerp, nearswap, arcee_fusion). */
function takesAB(m: MergeMethod): boolean {
	return m.base !== "none" && m.maxModels === 1;
}

function addParamOption<T>(y: Argv<T>, name: string, def: ParamDef, perModel: boolean): Argv<T> {
	const describe =
		`${def.description}${perModel ? " (one value for all models, or one per model)" : ""}` +
		`${def.default !== undefined ? ` [default: ${JSON.stringify(def.default)}]` : ""}`;
	if (def.type === "boolean" && !perModel) return y.option(kebab(name), { type: "boolean", description: describe });
	if (def.type === "number") return y.option(kebab(name), { type: "number", array: perModel, description: describe });
	return y.option(kebab(name), { type: "string", array: perModel, description: describe });
}

function parseValue(def: ParamDef, raw: unknown, flag: string): number | boolean | string {
	if (def.type === "number") {
		if (typeof raw !== "number" || Number.isNaN(raw)) throw new UsageError(`--${flag}: "${String(raw)}" is not a number`);
		return raw;
	}
	if (def.type === "boolean") {
		if (typeof raw === "boolean") return raw;
		if (raw === "true" || raw === "false") return raw === "true";
		throw new UsageError(`--${flag}: expected true or false`);
	}
	const v = raw === "true" ? true : raw === "false" ? false : String(raw);
	if (!def.values.includes(v as never)) throw new UsageError(`--${flag}: expected one of ${def.values.join(", ")}`);
	return v;
}

/** A required parameter without a default must come as a flag: say which flag, not how to write a recipe. */
function checkRequiredFlags(m: MergeMethod, argv: Args): void {
	for (const [name, def] of [...Object.entries(m.params), ...Object.entries(m.modelParams)]) {
		if (def.required === true && def.default === undefined && argv[kebab(name)] === undefined) {
			const range =
				def.type === "number" && def.min !== undefined && def.max !== undefined
					? `, a number in ${def.exclusiveMin === true ? "(" : "["}${def.min}, ${def.max}${def.exclusiveMax === true ? ")" : "]"}`
					: "";
			throw new UsageError(`${kebab(m.name)} needs ${flagName(name)} (${def.description.replace(/\.$/, "")}${range})`);
		}
	}
}

/**
 * Builds the mergekit-style recipe object a quick command stands for; `perModelCounts` says how many values each
 * per-model flag received (for messages, see labelFlagOrigins).
 */
export function quickRecipe(
	m: MergeMethod,
	argv: Args,
): { recipe: Record<string, unknown>; hint: string; perModelCounts: Map<string, number> } {
	const base = (argv.base as string | undefined) ?? (takesAB(m) ? (argv.a as string | undefined) : undefined);
	const models = [...((argv.models as string[] | undefined) ?? []).map(String)];
	if (takesAB(m) && argv.b !== undefined) models.push(String(argv.b));
	if (m.base === "required" && base === undefined) {
		throw new UsageError(takesAB(m) ? `${kebab(m.name)} needs --a (the base) and --b` : `${kebab(m.name)} needs --base`);
	}
	if (models.length === 0) throw new UsageError(takesAB(m) ? `${kebab(m.name)} needs --b` : `${kebab(m.name)} needs --models`);
	checkRequiredFlags(m, argv);
	const perModelCounts = new Map<string, number>();
	const entries: Record<string, unknown>[] = models.map((model) => ({ model }));
	for (const [name, def] of Object.entries(m.modelParams)) {
		const raw = argv[kebab(name)];
		if (raw === undefined) continue;
		const values = (Array.isArray(raw) ? raw : [raw]).map((v) => parseValue(def, v, kebab(name)));
		if (values.length !== 1 && values.length !== models.length) {
			throw new UsageError(`--${kebab(name)}: give one value, or one per model (${models.length}), not ${values.length}`);
		}
		perModelCounts.set(name, values.length);
		entries.forEach((e, i) => {
			e.parameters = { ...((e.parameters as object | undefined) ?? {}), [name]: values.length === 1 ? values[0] : values[i] };
		});
	}
	const parameters: Record<string, unknown> = {};
	for (const [name, def] of Object.entries(m.params)) {
		const raw = argv[kebab(name)];
		if (raw !== undefined) parameters[name] = parseValue(def, raw, kebab(name));
	}
	// Checked here, before the recipe is parsed, so a bad --dtype is a usage error; the recipe gets the torch name.
	const dtype = argv.dtype !== undefined ? parseDtypeName(argv.dtype) : undefined;
	if (argv.dtype !== undefined && dtype === undefined) throw new UsageError(`--dtype ${argv.dtype}: expected bfloat16, float16 or float32`);
	const recipe: Record<string, unknown> = {
		merge_method: m.name,
		...(base !== undefined && m.base !== "none" ? { base_model: base } : {}),
		models: entries,
		...(Object.keys(parameters).length > 0 ? { parameters } : {}),
		...(dtype !== undefined ? { dtype: torchDtypeName(dtype) } : {}),
		...(argv.seed !== undefined && m.random === true ? { seed: argv.seed } : {}),
		...(argv.compat === "mergekit" ? { compat: "mergekit" } : {}),
		...(argv["tokenizer-source"] !== undefined ? { tokenizer_source: String(argv["tokenizer-source"]) } : {}),
	};
	const names = [...(base !== undefined && m.base !== "none" ? [base] : []), ...models].map((r) => path.basename(r.replace(/@.*$/, "")));
	const hint = [kebab(m.name), ...names, ...Object.entries(parameters).map(([k, v]) => `${k}${String(v)}`)].join("-");
	return { recipe, hint, perModelCounts };
}

/**
 * What the saved recipe should name instead of `ref`: an alias (built-in or the user's) is local to this machine,
 * so it becomes the Hugging Face repo id it stands for (`biomistral` → `BioMistral/BioMistral-7B`, with
 * `@revision` unless it is main), or the folder it points to. Paths and repo ids stay as given; a reference that
 * does not resolve is left for the planner to report.
 */
async function portableRef(ref: string): Promise<string> {
	// No resolution here: resolving would download a Hub model before the planner (silently, and even with --offline).
	try {
		const target = await expandAlias(ref);
		if (target === undefined) return ref;
		return target.endsWith("@main") ? target.slice(0, -"@main".length) : target;
	} catch {
		return ref;
	}
}

/** The recipe with every alias replaced by portableRef(). */
export async function withPortableRefs(recipe: Record<string, unknown>): Promise<Record<string, unknown>> {
	const base = recipe.base_model;
	const models = recipe.models as Record<string, unknown>[];
	const tok = recipe.tokenizer_source;
	return {
		...recipe,
		...(typeof base === "string" ? { base_model: await portableRef(base) } : {}),
		...(typeof tok === "string" && tok !== "union" && tok !== "base"
			? { tokenizer_source: await portableRef(tok.replace(/^model:/, "")) }
			: {}),
		models: await Promise.all(models.map(async (m) => ({ ...m, model: await portableRef(String(m.model)) }))),
	};
}

/** One quick command per registered method: `merge slerp --a X --b Y --t 0.5`, `merge ties --base ...`. */
export function quickCommands(io: Io): CommandModule<object, Args>[] {
	return BUILTIN_METHODS.map((m) => ({
		command: kebab(m.name),
		aliases: m.name !== kebab(m.name) ? [m.name] : [],
		describe: `Merge with ${m.prettyName}`,
		builder: (y: Argv) => {
			let b: Argv = withMergeFlags(y) as Argv;
			if (takesAB(m)) {
				b = b
					.option("a", { type: "string", description: "The base model (t = 0 gives it exactly)" })
					.option("b", { type: "string", description: "The other model (t = 1 gives it exactly)" });
			}
			if (m.base !== "none")
				b = b.option("base", { type: "string", description: `Base model${m.base === "optional" ? " (optional)" : ""}` });
			b = b.option("models", {
				type: "string",
				array: true,
				description: m.base === "none" ? "Models to merge" : "Models merged onto the base",
			});
			b = b.option("tokenizer-source", {
				type: "string",
				description:
					"Output vocabulary: union (every model's tokens), base, or a model (mergekit's tokenizer_source); embeddings are permuted to it",
			});
			for (const [name, def] of Object.entries(m.modelParams)) b = addParamOption(b, name, def, true);
			for (const [name, def] of Object.entries(m.params)) b = addParamOption(b, name, def, false);
			return b as Argv<Args>;
		},
		handler: async (argv: Args) => {
			const { recipe, hint, perModelCounts } = quickRecipe(m, argv);
			// Messages name the flags the values came from (--t), not the YAML paths of the recipe built from them.
			await executeMerge(io, labelFlagOrigins(parseRecipe(stringify(await withPortableRefs(recipe))), perModelCounts), argv, hint);
		},
	}));
}
