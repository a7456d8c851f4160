import { suggestName } from "../suggest.js";

/** A path inside the YAML document: mapping keys and sequence indices. */
type YamlPathSegments = (string | number)[];

/** The first thing wrong with a value, relative to where it was found. */
interface SettingProblem {
	path: YamlPathSegments;
	kind: "Schema" | "Value";
	message: string;
	/** The message already says everything (unknown key, missing value): do not append the value. */
	hideValue?: boolean;
}

/** The part of zod's refinement context we use (kept structural so this file does not depend on zod). */
interface IssueSink {
	addIssue(issue: { code: "custom"; message: string; path: YamlPathSegments; params: { kind: string; hideValue?: boolean } }): void;
}

/** YAML's spellings of NaN and infinities, which a user may also have quoted. */
const NON_FINITE_WORDS = /^[-+]?\.?(nan|inf|infinity)$/i;

const CONDITION_KEYS = ["filter", "value"];

function isMapping(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

function problem(path: YamlPathSegments, kind: SettingProblem["kind"], message: string, hideValue = false): SettingProblem {
	return { path, kind, message, ...(hideValue ? { hideValue } : {}) };
}

function scalarProblem(v: unknown, path: YamlPathSegments): SettingProblem | undefined {
	switch (typeof v) {
		case "number":
			return Number.isFinite(v) ? undefined : problem(path, "Value", "not a finite number");
		case "boolean":
			return undefined;
		case "string": {
			const s = v.trim();
			if (NON_FINITE_WORDS.test(s)) return problem(path, "Value", "not a finite number");
			if (s !== "" && Number.isFinite(Number(s))) {
				return problem(path, "Schema", "a number written as a string (remove the quotes)");
			}
			return undefined;
		}
		default:
			if (v === null || v === undefined) return problem(path, "Schema", "missing value", true);
			return problem(path, "Schema", "expected a number, boolean or string");
	}
}

function listProblem(list: unknown[], path: YamlPathSegments, allowConditions: boolean): SettingProblem | undefined {
	if (list.length === 0) return problem(path, "Value", "empty list: give at least one value");
	if (isMapping(list[0])) {
		if (!allowConditions) {
			return problem([...path, 0], "Schema", "a filter entry's value cannot itself be a list of filter entries");
		}
		for (let i = 0; i < list.length; i++) {
			const entry = list[i];
			if (!isMapping(entry)) return problem([...path, i], "Schema", "expected a {filter, value} entry like the first one");
			const p = conditionProblem(entry, [...path, i]);
			if (p !== undefined) return p;
		}
		return undefined;
	}
	const numeric = typeof list[0] === "number";
	for (let i = 0; i < list.length; i++) {
		const el = list[i];
		const at = [...path, i];
		if (Array.isArray(el) || isMapping(el)) return problem(at, "Schema", "a list element must be a number, boolean or string");
		const p = scalarProblem(el, at);
		if (p !== undefined) return p;
		if ((typeof el === "number") !== numeric) {
			return problem(at, "Schema", "the list mixes numbers and non-numbers (a gradient is all numbers)");
		}
	}
	return undefined;
}

function conditionProblem(entry: Record<string, unknown>, path: YamlPathSegments): SettingProblem | undefined {
	for (const key of Object.keys(entry)) {
		if (!CONDITION_KEYS.includes(key)) {
			const hint = suggestName(key, CONDITION_KEYS);
			const message = `unknown key "${key}" in a filter entry${hint !== undefined ? ` (did you mean "${hint}"?)` : ""}`;
			return problem([...path, key], "Schema", message, true);
		}
	}
	if (!Object.hasOwn(entry, "value")) return problem(path, "Schema", "filter entry has no value", true);
	const filter = entry.filter;
	if (filter !== undefined && filter !== null && typeof filter !== "string") {
		return problem([...path, "filter"], "Schema", 'a filter is a string (a substring of tensor names), "*" or null');
	}
	return valueProblem(entry.value, [...path, "value"], false);
}

function valueProblem(v: unknown, path: YamlPathSegments, allowConditions: boolean): SettingProblem | undefined {
	if (Array.isArray(v)) return listProblem(v, path, allowConditions);
	if (isMapping(v)) {
		return problem(
			path,
			"Schema",
			allowConditions && Object.hasOwn(v, "value")
				? 'a {filter, value} entry must be inside a list: write "- filter: ..." on its own line'
				: "expected a number, boolean, string or list, got a mapping",
		);
	}
	return scalarProblem(v, path);
}

/** The first problem with a parameter setting, or undefined when it is a valid ParamSetting. */
function settingProblem(v: unknown): SettingProblem | undefined {
	return valueProblem(v, [], true);
}

/**
 * zod superRefine body for a `parameters:` block: null (none, as in mergekit) or a mapping whose every value is a
 * setting. Checked by hand rather than with z.record, which copies the mapping and silently drops a `__proto__`
 * key on the way; here the YAML's own object is kept, so every key reaches the planner's unknown-name check.
 */
export function checkParamTable(v: unknown, ctx: IssueSink): void {
	if (v === null || v === undefined) return;
	if (!isMapping(v)) {
		ctx.addIssue({ code: "custom", message: "expected a mapping of parameter names to values", path: [], params: { kind: "Schema" } });
		return;
	}
	for (const key of Object.keys(v)) {
		const p = settingProblem(v[key]);
		if (p !== undefined) {
			ctx.addIssue({
				code: "custom",
				message: p.message,
				path: [key, ...p.path],
				params: { kind: p.kind, hideValue: p.hideValue === true },
			});
		}
	}
}

/** zod superRefine body for `layer_range`: two non-negative integers [start, end) with start < end. */
export function checkLayerRange(v: unknown, ctx: IssueSink): void {
	const add = (path: YamlPathSegments, kind: SettingProblem["kind"], message: string) =>
		ctx.addIssue({ code: "custom", message, path, params: { kind } });
	if (v === undefined) {
		ctx.addIssue({ code: "custom", message: "required key is missing", path: [], params: { kind: "Schema", hideValue: true } });
		return;
	}
	if (!Array.isArray(v) || v.length !== 2) {
		add([], "Schema", "layer_range must be a list of two integers [start, end)");
		return;
	}
	for (let i = 0; i < 2; i++) {
		const el: unknown = v[i];
		if (typeof el !== "number") {
			add([i], "Schema", "expected an integer layer index");
			return;
		}
		if (!Number.isFinite(el)) {
			add([i], "Value", "not a finite number");
			return;
		}
		if (!Number.isInteger(el) || el < 0) {
			add([i], "Value", "a layer index must be a non-negative integer");
			return;
		}
	}
	if (v[0] >= v[1]) add([], "Value", "start must be below end (the range is [start, end), end excluded)");
}
