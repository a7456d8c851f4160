import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { SweepError } from "../errors.js";
import { parseRecipe } from "../recipe/load.js";
import { type Objective, parseObjective } from "./objective.js";
import type { TrialEval } from "./trial-types.js";
import { type PathSegment, parseYamlPath } from "./yaml-path.js";

/** A sweep file is a few dozen lines; anything past this is not one (a model file passed by mistake). */
const MAX_SWEEP_BYTES = 1 << 20;

/** A varied value's place in the recipe: the path as written (`models[1].parameters.density`) and its segments. */
interface SweepParam {
	path: string;
	segments: PathSegment[];
}

/** A numeric range to draw from (random) or search in (CMA-ES). */
export interface RangeParam extends SweepParam {
	min: number;
	max: number;
	/** Draw / search in log space (both bounds > 0). */
	log: boolean;
	/** Snap values to min + k·step (fewer distinct trials, more reuse). */
	step?: number;
	/** Round to integers. */
	int: boolean;
}

/** A list of values to draw from uniformly (random only). */
export interface ChoiceParam extends SweepParam {
	choices: unknown[];
}

/** How a sweep picks its trials: a full grid, random points, or a CMA-ES search over ranges. */
export type SweepStrategySpec =
	| { kind: "grid"; axes: Array<SweepParam & { values: unknown[] }> }
	| { kind: "random"; n: number; seed: number; space: Array<RangeParam | ChoiceParam> }
	| { kind: "search"; method: "cmaes"; budget: number; seed: number; population?: number; sigma: number; space: RangeParam[] };

/** A parsed sweep file: every path resolved against its folder, every value checked. */
export interface SweepSpec {
	/** Absolute path of the sweep file. */
	file: string;
	/** `name:` or the file name without extension; labels the store's rows. */
	name: string;
	recipe: { file: string; text: string };
	strategy: SweepStrategySpec;
	eval: TrialEval;
	merge: { threads?: number };
	objective: Objective;
}

const rangeSchema = z.strictObject({
	min: z.number(),
	max: z.number(),
	log: z.boolean().optional(),
	step: z.number().positive().optional(),
	int: z.boolean().optional(),
});

const evalSchema = z.strictObject({
	data: z.string().min(1),
	tasks: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
	mode: z.enum(["biomistral", "harness"]).optional(),
	shots: z.number().int().min(0).optional(),
	seeds: z.union([z.number().int().min(1), z.array(z.number().int().min(0)).min(1)]).optional(),
	limit: z.number().int().min(1).optional(),
	batch: z.number().int().min(1).optional(),
	device: z.enum(["auto", "cpu", "wasm", "gpu", "node"]).optional(),
	streaming: z.boolean().optional(),
	"shots-from": z.string().min(1).optional(),
	"skip-bad": z.boolean().optional(),
	"cop-base": z.union([z.literal(0), z.literal(1)]).optional(),
	bos: z.boolean().optional(),
	translated: z.boolean().optional(),
	backend: z.string().min(1).optional(),
	quant: z.string().min(1).optional(),
});

const sweepSchema = z.strictObject({
	name: z.string().min(1).optional(),
	recipe: z.string().min(1),
	grid: z.record(z.string(), z.array(z.unknown()).min(1)).optional(),
	random: z
		.strictObject({
			n: z.number().int().min(1),
			seed: z.number().int().min(0).optional(),
			space: z.record(z.string(), z.union([rangeSchema, z.array(z.unknown()).min(1)])),
		})
		.optional(),
	search: z
		.strictObject({
			method: z.literal("cmaes"),
			budget: z.number().int().min(1),
			seed: z.number().int().min(0).optional(),
			population: z.number().int().min(2).optional(),
			sigma: z.number().positive().max(1).optional(),
			space: z.record(z.string(), rangeSchema),
		})
		.optional(),
	eval: evalSchema,
	merge: z.strictObject({ threads: z.number().int().min(1).optional() }).optional(),
	objective: z.string().min(1).optional(),
});

type RawSweep = z.infer<typeof sweepSchema>;

function formatIssuePath(p: readonly PropertyKey[]): string {
	return p.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`)).join("");
}

function toRange(pathText: string, raw: z.infer<typeof rangeSchema>, file: string): RangeParam {
	const where = `space.${pathText}`;
	if (!Number.isFinite(raw.min) || !Number.isFinite(raw.max) || raw.min >= raw.max) {
		throw new SweepError("Spec", `${where}: min must be below max (got ${raw.min}, ${raw.max})`, file);
	}
	if (raw.log === true && raw.min <= 0) throw new SweepError("Spec", `${where}: log ranges need min > 0 (got ${raw.min})`, file);
	const range: RangeParam = {
		path: pathText,
		segments: parseYamlPath(pathText, file),
		min: raw.min,
		max: raw.max,
		log: raw.log === true,
		int: raw.int === true,
	};
	if (raw.step !== undefined) range.step = raw.step;
	return range;
}

function toEval(raw: RawSweep["eval"], dir: string): TrialEval {
	const e: TrialEval = { data: path.resolve(dir, raw.data) };
	if (raw.tasks !== undefined) e.tasks = typeof raw.tasks === "string" ? raw.tasks.split(",").map((t) => t.trim()) : raw.tasks;
	if (raw.mode !== undefined) e.mode = raw.mode;
	if (raw.shots !== undefined) e.shots = raw.shots;
	if (raw.seeds !== undefined) e.seeds = raw.seeds;
	if (raw.limit !== undefined) e.limit = raw.limit;
	if (raw.batch !== undefined) e.batch = raw.batch;
	if (raw.device !== undefined) e.device = raw.device;
	if (raw.streaming !== undefined) e.streaming = raw.streaming;
	if (raw["shots-from"] !== undefined) e.shotsFrom = path.resolve(dir, raw["shots-from"]);
	if (raw["skip-bad"] !== undefined) e.skipBad = raw["skip-bad"];
	if (raw["cop-base"] !== undefined) e.copBase = raw["cop-base"];
	if (raw.bos !== undefined) e.bos = raw.bos;
	if (raw.translated !== undefined) e.translated = raw.translated;
	if (raw.backend !== undefined) e.backend = raw.backend;
	if (raw.quant !== undefined) e.quant = raw.quant;
	return e;
}

function toStrategy(raw: RawSweep, file: string): SweepStrategySpec {
	const given = (["grid", "random", "search"] as const).filter((k) => raw[k] !== undefined);
	if (given.length !== 1) {
		throw new SweepError(
			"Spec",
			given.length === 0 ? "say what to vary: grid, random or search" : `give one of grid, random and search, not ${given.join(" and ")}`,
			file,
		);
	}
	if (raw.grid !== undefined) {
		const axes = Object.entries(raw.grid).map(([p, values]) => ({ path: p, segments: parseYamlPath(p, file), values }));
		if (axes.length === 0) throw new SweepError("Spec", "grid: name at least one recipe path to vary", file);
		return { kind: "grid", axes };
	}
	if (raw.random !== undefined) {
		const space = Object.entries(raw.random.space).map(([p, v]) =>
			Array.isArray(v) ? { path: p, segments: parseYamlPath(p, file), choices: v } : toRange(p, v, file),
		);
		if (space.length === 0) throw new SweepError("Spec", "random.space: name at least one recipe path to vary", file);
		return { kind: "random", n: raw.random.n, seed: raw.random.seed ?? 0, space };
	}
	const s = raw.search as NonNullable<RawSweep["search"]>;
	const space = Object.entries(s.space).map(([p, v]) => toRange(p, v, file));
	if (space.length === 0) throw new SweepError("Spec", "search.space: name at least one recipe path to search", file);
	const strategy: SweepStrategySpec = {
		kind: "search",
		method: s.method,
		budget: s.budget,
		seed: s.seed ?? 0,
		sigma: s.sigma ?? 0.3,
		space,
	};
	if (s.population !== undefined) strategy.population = s.population;
	return strategy;
}

/** Parses sweep YAML `text` read from `file` (relative paths in it resolve against the file's folder). */
export async function parseSweep(text: string, file: string): Promise<SweepSpec> {
	const abs = path.resolve(file);
	const dir = path.dirname(abs);
	let data: unknown;
	try {
		data = parseYaml(text);
	} catch (err) {
		throw new SweepError("Spec", `not valid YAML: ${(err as Error).message.split("\n")[0]}`, file);
	}
	const parsed = sweepSchema.safeParse(data ?? {});
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const where = issue !== undefined && issue.path.length > 0 ? `${formatIssuePath(issue.path)}: ` : "";
		throw new SweepError("Spec", `${where}${issue?.message ?? "invalid sweep file"}`, file);
	}
	const raw = parsed.data;
	const recipeFile = path.resolve(dir, raw.recipe);
	let recipeText: string;
	try {
		recipeText = await readFile(recipeFile, "utf8");
	} catch (err) {
		throw new SweepError(
			"NotFound",
			`recipe ${raw.recipe}: cannot read ${recipeFile} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
			file,
		);
	}
	parseRecipe(recipeText, recipeFile); // the base recipe must be valid before any value is put into it
	const spec: SweepSpec = {
		file: abs,
		name: raw.name ?? path.basename(abs).replace(/\.ya?ml$/i, ""),
		recipe: { file: recipeFile, text: recipeText },
		strategy: toStrategy(raw, file),
		eval: toEval(raw.eval, dir),
		merge: raw.merge?.threads !== undefined ? { threads: raw.merge.threads } : {},
		objective: parseObjective(raw.objective ?? "mean_accuracy", file),
	};
	return spec;
}

/** Reads and parses a sweep file. */
export async function loadSweep(file: string): Promise<SweepSpec> {
	let text: string;
	try {
		text = await readFile(file, "utf8");
	} catch (err) {
		throw new SweepError("NotFound", `cannot read the sweep file (${(err as NodeJS.ErrnoException).code ?? "error"})`, file);
	}
	if (text.length > MAX_SWEEP_BYTES) throw new SweepError("Spec", `${text.length} bytes: too large for a sweep file`, file);
	return parseSweep(text, file);
}
