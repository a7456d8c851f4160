import type { ParamCondition, ParamScalar, ParamSetting, ParamTable, ParamValue } from "./schema.js";
import { joinYamlPath } from "./yaml-path.js";

/** Tensors outside the layer stack (embed_tokens, the final norm, lm_head) take a gradient at t = 0, as in mergekit. */
export const NON_LAYER_T = 0;

/** A resolved value and the YAML path it came from (the matched filter entry, or the step-list element). */
export interface ResolvedParam {
	value: ParamScalar;
	path: string;
}

/** The parameter blocks that apply to one tensor of one source, from most to least specific. */
interface ParamLevels {
	/** `models[i].parameters` or `slices[s].sources[j].parameters` (per-model parameters only). */
	sourceParams?: ParamTable;
	/** `slices[s].parameters`. */
	sliceParams?: ParamTable;
	/** The top-level `parameters`. */
	topParams: ParamTable;
}

/** Position of layer `idx` in an output slice of `n` layers: idx / (n - 1), and 1 for a one-layer slice. */
export function layerT(idx: number, n: number): number {
	if (!Number.isInteger(n) || n < 1 || !Number.isInteger(idx) || idx < 0 || idx >= n) {
		throw new RangeError(`layerT: layer ${idx} is not inside a slice of ${n} layers`);
	}
	return n === 1 ? 1 : idx / (n - 1);
}

function isConditionList(list: readonly unknown[]): list is ParamCondition[] {
	const first = list[0];
	return typeof first === "object" && first !== null;
}

function matches(filter: string | null | undefined, tensorName: string): boolean {
	return filter === undefined || filter === null || filter === "*" || (tensorName !== "" && tensorName.includes(filter));
}

/**
 * Evaluates a value at t. Lists are homogeneous (the schema guarantees it), so looking at the first element is
 * enough: each call is O(1) in the list length.
 */
function resolveValue(value: ParamValue, path: string, t: number): ResolvedParam | undefined {
	if (!Array.isArray(value)) return { value, path };
	const k = value.length;
	if (k === 0) return undefined;
	if (typeof value[0] === "number") {
		const list = value as number[];
		const s = t * (k - 1);
		const i0 = Math.floor(s);
		const i1 = Math.min(k - 1, i0 + 1);
		const f = s - i0;
		return { value: (1 - f) * list[i0]! + f * list[i1]!, path };
	}
	const i = Math.trunc(t * (k - 1));
	return { value: value[i]!, path: joinYamlPath(path, i) };
}

function resolveAt(setting: ParamSetting, path: string, tensorName: string, t: number): ResolvedParam | undefined {
	if (!(t >= 0 && t <= 1)) throw new RangeError(`resolveSetting: t must be in [0, 1], got ${t} (${path || tensorName})`);
	if (Array.isArray(setting) && isConditionList(setting)) {
		for (let i = 0; i < setting.length; i++) {
			const cond = setting[i]!;
			if (matches(cond.filter, tensorName)) return resolveValue(cond.value, joinYamlPath(joinYamlPath(path, i), "value"), t);
		}
		return undefined;
	}
	return resolveValue(setting as ParamValue, path, t);
}

/**
 * mergekit's evaluation of a setting for one tensor at layer position t ∈ [0, 1]:
 * a scalar is itself; a number list is a piecewise-linear gradient over evenly spaced anchors (float64);
 * a boolean / string list is a step function (element ⌊t·(K−1)⌋); a filter list picks the first entry whose
 * filter is missing, null, "*" or a substring of the tensor name and evaluates its value; undefined when no
 * entry matches (the lookup then falls through to the next level).
 */
export function resolveSetting(setting: ParamSetting, tensorName: string, t: number): ParamScalar | undefined {
	return resolveAt(setting, "", tensorName, t)?.value;
}

/**
 * Looks `name` up with mergekit's precedence: the source's own parameters (only for per-model parameters),
 * then the slice's, then the top level; the first level whose setting yields a value wins. Global parameters
 * (`perModel` false) skip the source level. Undefined means "use the method default".
 */
export function lookupParam(
	name: string,
	levels: ParamLevels,
	perModel: boolean,
	tensorName: string,
	t: number,
): ResolvedParam | undefined {
	const tables = [perModel ? levels.sourceParams : undefined, levels.sliceParams, levels.topParams];
	for (const table of tables) {
		if (table === undefined || !Object.hasOwn(table, name)) continue;
		const entry = table[name]!;
		const found = resolveAt(entry.setting, entry.path, tensorName, t);
		if (found !== undefined) return found;
	}
	return undefined;
}

/** Every substring filter of a setting with its path (`...t[0].filter`); "*" and null match all and are left out. */
export function filtersOf(setting: ParamSetting, path = ""): { filter: string; path: string }[] {
	if (!Array.isArray(setting) || !isConditionList(setting)) return [];
	const out: { filter: string; path: string }[] = [];
	setting.forEach((cond, i) => {
		if (typeof cond.filter === "string" && cond.filter !== "*") {
			out.push({ filter: cond.filter, path: joinYamlPath(joinYamlPath(path, i), "filter") });
		}
	});
	return out;
}

/**
 * Every scalar a setting holds (gradient anchors, step-list elements, filter-entry values), each with its path
 * (`models[1].parameters.density[2]`). A gradient's values lie between its anchors, so a range check of the
 * leaves covers every value the setting can resolve to.
 */
export function settingLeaves(setting: ParamSetting, path = ""): ResolvedParam[] {
	if (!Array.isArray(setting)) return [{ value: setting, path }];
	if (isConditionList(setting)) {
		return setting.flatMap((cond, i) => settingLeaves(cond.value, joinYamlPath(joinYamlPath(path, i), "value")));
	}
	return (setting as ParamScalar[]).map((value, i) => ({ value, path: joinYamlPath(path, i) }));
}
