import { stat } from "node:fs/promises";
import { join } from "node:path";
import { configValue } from "../arch/config-values.js";
import { PlanError, TokenizerError } from "../errors.js";
import { configJsonOf } from "../model/model-source.js";
import type { RecipeTokenOverride } from "../recipe/schema.js";
import { checkBuiltTokenizer, rebuiltTokenizerFiles, STALE_WHEN_REBUILT } from "../vocab/output-files.js";
import { planRows, type RowModel, type RowPlan, type TokenOverride } from "../vocab/row-plan.js";
import { stripTokenizer } from "../vocab/strip.js";
import { hasTokenizerJson, readTokenizerFolder, type TokenizerJson } from "../vocab/tokenizer-files.js";
import { addPlainTokens, unionTokenizer } from "../vocab/union.js";
import { type Vocabulary, vocabularyOf } from "../vocab/vocabulary.js";
import type { PlannedModel } from "./types.js";

/** What a recipe's tokenizer settings make of the output vocabulary. */
export interface VocabPlan {
	/** "union", "base", or "model" (a model's tokenizer, `tokenizer_source: <model>`). */
	mode: "union" | "base" | "model";
	/** Rows of the output embeddings (the vocabulary, padded to `pad_to_multiple_of`). */
	rows: number;
	/** Tokens in the output vocabulary (rows beyond them are padding). */
	tokens: number;
	/** Tokens the output has that its tokenizer donor did not (union, `tokens:` additions). */
	added: string[];
	/** Replacement tokenizer files (tokenizer.json, tokenizer_config.json); undefined when the donor's files fit as they are. */
	files: Map<string, string> | undefined;
	/** Donor files not copied because they describe another vocabulary. */
	omit: string[];
	/** How each model's rows map to the output's. */
	rowPlan: RowPlan;
	warnings: string[];
}

/** Everything planVocabulary needs from the planner. */
interface VocabInputs {
	mode: VocabPlan["mode"];
	models: readonly PlannedModel[];
	/** The tokenizer donor (base model, else the first model). */
	donor: number;
	/** The recipe's base model, whose rows are the default for tokens several models have. */
	base: number | undefined;
	/** `tokenizer_source: <model>`: that model's folder. */
	sourceDir?: string;
	overrides: readonly RecipeTokenOverride[];
	/** Recipe reference → model index (for `tokens:` sources). */
	indexOf: ReadonlyMap<string, number>;
	padTo: number | undefined;
	/** Each model's embedding row count (the donor-first embedding tensor), for limits and the identity check. */
	embedRows: ReadonlyMap<number, number>;
}

/** The number of ids a model's embeddings cover: config.json's vocabulary size (its family's key), else its rows. */
function limitOf(m: PlannedModel, rows: number | undefined): number {
	for (const key of m.arch.vocabSizeKeys) {
		const v = configValue(configJsonOf(m.source), key);
		if (typeof v === "number") return v;
	}
	return rows ?? Number.MAX_SAFE_INTEGER;
}

/** Each model's tokenizer.json; one without any is assumed to share the donor's (as mergekit does), with a warning. */
async function readAll(inputs: VocabInputs, warnings: string[]): Promise<Map<number, TokenizerJson>> {
	const out = new Map<number, TokenizerJson>();
	const donor = inputs.models[inputs.donor]!;
	if (!(await hasTokenizerJson(donor.source.dir))) {
		throw new TokenizerError(
			"NotFound",
			donor.source.dir,
			`has no tokenizer.json, which tokenizer_source ${inputs.mode} needs from the base (or first) model`,
		);
	}
	const donorJson = (await readTokenizerFolder(donor.source.dir)).json;
	for (const [i, m] of inputs.models.entries()) {
		if (i === inputs.donor) out.set(i, donorJson);
		else if (await hasTokenizerJson(m.source.dir)) out.set(i, (await readTokenizerFolder(m.source.dir)).json);
		else {
			warnings.push(`${m.ref} has no tokenizer.json; its vocabulary is taken to be ${donor.ref}'s`);
			out.set(i, donorJson);
		}
	}
	return out;
}

function resolveOverrides(inputs: VocabInputs): TokenOverride[] {
	return inputs.overrides.map((o) => {
		const model = (ref: string) => {
			const i = inputs.indexOf.get(ref);
			if (i === undefined) throw new TokenizerError("Invalid", o.path, `the source model ${ref} is not one of the models of the merge`);
			return i;
		};
		const s = o.source;
		const source =
			s.kind === "zero" ? s : s.kind === "model" ? { kind: "model" as const, model: model(s.model) } : { ...s, model: model(s.model) };
		return { token: o.token, source, force: o.force, path: o.path };
	});
}

/**
 * Builds the output vocabulary of `tokenizer_source: union | base | <model>` (and the `tokenizer:` block): the
 * tokenizer.json to write (checked by loading it with @huggingface/tokenizers) and how every model's embedding rows
 * map onto it. Reads tokenizer files only, never tensor data.
 */
export async function planVocabulary(inputs: VocabInputs): Promise<VocabPlan> {
	const warnings: string[] = [];
	const jsons = await readAll(inputs, warnings);
	const donor = inputs.models[inputs.donor]!;
	const limits = new Map(inputs.models.map((m, i) => [i, limitOf(m, inputs.embedRows.get(i))]));
	let json: TokenizerJson;
	let config: Record<string, unknown> | undefined;
	let changed = false;
	let added: string[] = [];
	let location = donor.source.dir;
	if (inputs.mode === "model") {
		const folder = await readTokenizerFolder(inputs.sourceDir!);
		({ json, config } = folder);
		location = folder.dir;
	} else {
		config = (await readTokenizerFolder(donor.source.dir)).config;
		const stripped = stripTokenizer(jsons.get(inputs.donor)!, limits.get(inputs.donor)!);
		json = stripped.json;
		changed = stripped.removed.length > 0;
		if (changed)
			warnings.push(
				`${donor.ref}: ${stripped.removed.length} token(s) at or above its vocab_size ${limits.get(inputs.donor)} ` +
					`are left out of the tokenizer`,
			);
		if (inputs.mode === "union") {
			const others = inputs.models.flatMap((m, i) =>
				i === inputs.donor || jsons.get(i) === jsons.get(inputs.donor) ? [] : [{ name: m.ref, json: jsons.get(i)!, limit: limits.get(i)! }],
			);
			const u = unionTokenizer(json, others);
			json = u.json;
			added = u.added;
			warnings.push(...u.warnings);
			changed ||= u.added.length > 0;
		}
	}
	const extra = addPlainTokens(
		json,
		inputs.overrides.map((o) => o.token),
	);
	if (extra.added.length > 0) {
		json = extra.json;
		added = [...added, ...extra.added];
		changed = true;
	}
	const vocab: Vocabulary = vocabularyOf(json);
	let files: Map<string, string> | undefined;
	if (changed) {
		files = rebuiltTokenizerFiles(json, config);
		checkBuiltTokenizer(json, config, vocab, location);
		const stale = (
			await Promise.all(
				STALE_WHEN_REBUILT.map(async (f) =>
					(await stat(join(location, f)).then(
						() => true,
						() => false,
					))
						? [f]
						: [],
				),
			)
		).flat();
		if (stale.length > 0)
			warnings.push(
				`${stale.join(", ")} from ${location} ${stale.length === 1 ? "is" : "are"} not copied: ` +
					`${stale.length === 1 ? "it describes" : "they describe"} the old vocabulary (tokenizer.json holds the merged one)`,
			);
	}
	const rowModels: RowModel[] = inputs.models.map((m, i) => ({
		model: i,
		name: m.ref,
		vocab: vocabularyOf(jsons.get(i)!),
		limit: limits.get(i)!,
	}));
	const rowPlan = planRows(vocab, rowModels, inputs.base, resolveOverrides(inputs), inputs.padTo, new Map(inputs.embedRows));
	warnings.push(...rowPlan.warnings);
	const donorRows = inputs.embedRows.get(inputs.donor);
	if (donorRows !== undefined && rowPlan.rows < donorRows) {
		warnings.push(
			`the output has ${rowPlan.rows} embedding rows where ${donor.ref} has ${donorRows} ` +
				`(its tokenizer covers fewer ids than its embeddings have rows); set tokenizer.pad_to_multiple_of to pad them`,
		);
	}
	if (vocab.size === 0) throw new PlanError("VocabMismatch", `${location}: the output tokenizer has no tokens`);
	return {
		mode: inputs.mode,
		rows: rowPlan.rows,
		tokens: vocab.size,
		added,
		files,
		omit: changed ? [...STALE_WHEN_REBUILT] : [],
		rowPlan,
		warnings,
	};
}
