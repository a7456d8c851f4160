import { TokenizerError } from "../errors.js";
import type { Vocabulary } from "./vocabulary.js";

/** Row code: the output row is filled from the token's default embedding (the model lacks the token, or it is forced). */
export const ROW_DEFAULT = -1;
/** Row code: a padding row (pad_to_multiple_of) or an id no token uses: the mean of the model's token rows. */
export const ROW_MEAN = -2;

/** Where a token's default embedding comes from (mergekit's `tokenizer.tokens.<t>.source`). */
type TokenSource =
	| { kind: "model"; model: number }
	| { kind: "model_token"; model: number; token?: string; tokenId?: number }
	| { kind: "zero" };

/** A `tokenizer.tokens` entry, with its models resolved to plan indices. */
export interface TokenOverride {
	token: string;
	source: TokenSource;
	/** Use the default embedding in every model, even those that have the token. */
	force: boolean;
	/** The recipe path, for messages (`tokenizer.tokens["<|im_start|>"]`). */
	path: string;
}

/** One model whose embedding rows are rebuilt: its vocabulary and how many of its ids are real rows. */
export interface RowModel {
	model: number;
	name: string;
	vocab: Vocabulary;
	/** Ids at or above this are not the model's (config vocab_size, or the embedding's row count). */
	limit: number;
}

/** How every model's embedding rows map to the output vocabulary. */
export interface RowPlan {
	/** Output rows, padding included. */
	rows: number;
	/** Per model: for each output row, the model's source row, or ROW_DEFAULT, or ROW_MEAN. */
	maps: Map<number, Int32Array>;
	/** Output row → the rows whose mean is its default embedding ([] = zeros). Only rows some map sends to ROW_DEFAULT. */
	defaults: Map<number, Array<{ model: number; row: number }>>;
	/** Models whose map is the identity over all of their rows (nothing to rebuild for them). */
	identity: Set<number>;
	warnings: string[];
}

/**
 * mergekit's embedding permutation: a model that has a token keeps its own row (unless the token is forced); a model
 * that lacks it gets the token's default: the `tokens:` source if given, else the only model that has it, else the base
 * model's row, else the mean of the models that have it, else zeros (with a warning). Padding rows get the mean of the
 * model's token rows. `embedRows` is each model's embedding row count (for the identity check).
 */
export function planRows(
	out: Vocabulary,
	models: readonly RowModel[],
	base: number | undefined,
	overrides: readonly TokenOverride[],
	padTo: number | undefined,
	embedRows: Map<number, number>,
): RowPlan {
	const tokens = out.size;
	const rows = padTo !== undefined && tokens % padTo !== 0 ? tokens + padTo - (tokens % padTo) : tokens;
	const has = (m: RowModel, token: string): number => {
		const id = m.vocab.ids.get(token);
		return id !== undefined && id < m.limit ? id : -1;
	};
	const byIndex = new Map(models.map((m) => [m.model, m]));
	const override = new Map(overrides.map((o) => [o.token, o]));
	// Every override is checked, needed or not (a typo in a model or token should not wait for a model lacking it).
	const overrideRows = new Map(overrides.map((o) => [o.token, overrideSource(o, new Map(models.map((m) => [m.model, m])), o.token)]));
	const maps = new Map(models.map((m) => [m.model, new Int32Array(rows).fill(ROW_MEAN)]));
	const defaults = new Map<number, Array<{ model: number; row: number }>>();
	const warnings: string[] = [];
	const missing: string[] = [];
	for (let r = 0; r < tokens; r++) {
		const token = out.tokens.get(r);
		if (token === undefined) continue;
		const o = override.get(token);
		const present = models.filter((m) => has(m, token) >= 0);
		let needDefault = o?.force === true;
		for (const m of models) {
			const id = has(m, token);
			const map = maps.get(m.model)!;
			map[r] = id >= 0 && o?.force !== true ? id : ROW_DEFAULT;
			if (map[r] === ROW_DEFAULT) needDefault = true;
		}
		if (!needDefault) continue;
		if (o !== undefined) defaults.set(r, overrideRows.get(token)!);
		else if (present.length === 1) defaults.set(r, [{ model: present[0]!.model, row: has(present[0]!, token) }]);
		else if (present.length === 0) {
			defaults.set(r, []);
			missing.push(token);
		} else {
			const b = base !== undefined ? byIndex.get(base) : undefined;
			const fromBase = b !== undefined ? has(b, token) : -1;
			defaults.set(r, fromBase >= 0 ? [{ model: base!, row: fromBase }] : present.map((m) => ({ model: m.model, row: has(m, token) })));
		}
	}
	if (missing.length > 0)
		warnings.push(
			`${missing.length} token(s) are in no model (${missing
				.slice(0, 4)
				.map((t) => JSON.stringify(t))
				.join(", ")}); their embedding rows are zeros`,
		);
	const identity = new Set<number>();
	for (const [model, map] of maps) {
		if (embedRows.get(model) === rows && map.every((v, i) => v === i)) identity.add(model);
	}
	return { rows, maps, defaults, identity, warnings };
}

function overrideSource(o: TokenOverride, models: Map<number, RowModel>, token: string): Array<{ model: number; row: number }> {
	const s = o.source;
	if (s.kind === "zero") return [];
	const m = models.get(s.model);
	if (m === undefined) throw new TokenizerError("Invalid", o.path, `its source model is not one of the models whose embeddings are merged`);
	if (s.kind === "model") {
		const id = m.vocab.ids.get(token);
		if (id === undefined || id >= m.limit)
			throw new TokenizerError("MissingToken", o.path, `${m.name} has no token ${JSON.stringify(token)}`);
		return [{ model: m.model, row: id }];
	}
	const id = s.tokenId ?? (s.token !== undefined ? m.vocab.ids.get(s.token) : undefined);
	if (id === undefined) throw new TokenizerError("MissingToken", o.path, `${m.name} has no token ${JSON.stringify(s.token)}`);
	if (id < 0 || id >= m.limit)
		throw new TokenizerError("MissingToken", o.path, `token id ${id} is outside ${m.name}'s ${m.limit} embedding rows`);
	return [{ model: m.model, row: id }];
}
