import type { z } from "zod";
import { RecipeError, type RecipeErrorKind } from "../errors.js";
import { suggestName } from "../suggest.js";
import { KNOWN_KEYS } from "./schema.js";
import { formatYamlPath } from "./yaml-path.js";
import type { YamlSource } from "./yaml-source.js";

/** Values are shown in messages up to this many characters, so a 10,000-value gradient stays one short line. */
const MAX_SHOWN_VALUE_CHARS = 60;

type Issue = z.core.$ZodIssue;
type Segments = PropertyKey[];

/** The value at `path` inside the plain parsed YAML, or undefined. */
function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
	let v = data;
	for (const seg of path) {
		if (typeof v !== "object" || v === null || !Object.hasOwn(v, seg)) return undefined;
		v = (v as Record<PropertyKey, unknown>)[seg];
	}
	return v;
}

/** A value as the user would recognise it from their YAML (`.nan`, `"0.5"`, `[0, 0.5, 1]`), kept short. */
function describeValue(v: unknown): string {
	if (typeof v === "number") {
		if (Number.isNaN(v)) return ".nan";
		if (!Number.isFinite(v)) return v > 0 ? ".inf" : "-.inf";
		return String(v);
	}
	if (v === undefined) return "nothing";
	const text = JSON.stringify(v, (_, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? describeValue(x) : x)) ?? String(v);
	return text.length > MAX_SHOWN_VALUE_CHARS ? `${text.slice(0, MAX_SHOWN_VALUE_CHARS - 1)}…` : text;
}

/** Which mapping an unknown key sits in, to suggest the right spelling. */
function knownKeysAt(path: Segments): readonly string[] {
	if (path.length === 3 && path[0] === "tokenizer" && path[1] === "tokens") return KNOWN_KEYS.tokenEntry;
	const p = path.map((s) => (typeof s === "number" ? "#" : String(s))).join("/");
	switch (p) {
		case "":
			return KNOWN_KEYS.root;
		case "models/#":
			return KNOWN_KEYS.model;
		case "slices/#":
			return KNOWN_KEYS.slice;
		case "slices/#/sources/#":
			return KNOWN_KEYS.source;
		case "tokenizer":
			return KNOWN_KEYS.tokenizer;

		default:
			return [];
	}
}

interface Described {
	kind: RecipeErrorKind;
	path: Segments;
	message: string;
	showValue: boolean;
}

function describeIssue(issue: Issue, data: unknown): Described {
	const path = [...issue.path];
	const value = valueAt(data, path);
	switch (issue.code) {
		case "invalid_type": {
			if (value === undefined) return { kind: "Schema", path, message: "required key is missing", showValue: false };
			if (typeof value === "number" && !Number.isFinite(value)) {
				return { kind: "Value", path, message: "not a finite number", showValue: true };
			}
			if (issue.expected === "int") return { kind: "Value", path, message: "must be an integer", showValue: true };
			const parent = path[path.length - 2];
			if (issue.expected === "object" && typeof value === "string" && (parent === "models" || parent === "sources")) {
				return { kind: "Schema", path, message: `expected a mapping like "- model: ${value}", not a bare string`, showValue: false };
			}
			const expected = issue.expected === "object" ? "a mapping" : issue.expected === "array" ? "a list" : `a ${issue.expected}`;
			return { kind: "Schema", path, message: `expected ${expected}`, showValue: true };
		}
		case "too_small":
		case "too_big": {
			if (issue.origin === "array") return { kind: "Value", path, message: "empty list", showValue: false };
			if (issue.origin === "string") return { kind: "Value", path, message: "must not be empty", showValue: false };
			const bound = issue.code === "too_small" ? `>= ${String(issue.minimum)}` : `<= ${String(issue.maximum)}`;
			return { kind: "Value", path, message: `must be ${bound}`, showValue: true };
		}
		case "unrecognized_keys": {
			const key = issue.keys[0] ?? "";
			const hint = suggestName(key, knownKeysAt(path));
			const message = `unknown key "${key}"${hint !== undefined ? ` (did you mean "${hint}"?)` : ""}`;
			return { kind: "Schema", path: [...path, key], message, showValue: false };
		}
		case "invalid_value":
			return {
				kind: "Value",
				path,
				message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
				showValue: true,
			};
		case "custom": {
			const params = issue.params as { kind?: RecipeErrorKind; hideValue?: boolean } | undefined;
			return { kind: params?.kind ?? "Value", path, message: issue.message, showValue: params?.hideValue !== true };
		}
		default:
			return { kind: "Schema", path, message: issue.message, showValue: true };
	}
}

/**
 * The RecipeError for a failed validation: the issue that comes first in the file (ties keep zod's order),
 * with its YAML path, the offending value and the line and column.
 */
export function issuesToError(issues: readonly Issue[], data: unknown, source: YamlSource, file?: string): RecipeError {
	let best: { d: Described; line: number; col: number } | undefined;
	for (const issue of issues) {
		const d = describeIssue(issue, data);
		const pos = source.locate(d.path) ?? { line: Number.POSITIVE_INFINITY, col: 0 };
		if (best === undefined || pos.line < best.line || (pos.line === best.line && pos.col < best.col)) {
			best = { d, line: pos.line, col: pos.col };
		}
	}
	if (best === undefined) return new RecipeError("Schema", "", "invalid recipe", file);
	const { d, line, col } = best;
	const got = d.showValue ? `, got ${describeValue(valueAt(data, d.path))}` : "";
	const at = Number.isFinite(line) ? ` (line ${line}, column ${col})` : "";
	return new RecipeError(d.kind, formatYamlPath(d.path), `${d.message}${got}${at}`, file);
}
