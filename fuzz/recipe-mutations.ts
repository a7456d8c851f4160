/**
 * Mutations of a valid recipe's YAML text: YAML features a recipe should never need (tags, anchors and aliases,
 * merge keys, directives, several documents), scalars YAML reads in surprising ways (`.nan`, `0x10`, `yes`, `1e400`),
 * keys that are dangerous in JavaScript (`__proto__`), and blind edits of lines and characters. Each returns a label.
 */
import type { FuzzRandom } from "./random.js";

/** Scalars that YAML 1.1 / 1.2 read in surprising ways, or that probe number limits. */
const SCALARS = [
	".nan",
	".NaN",
	".inf",
	"-.inf",
	"0x10",
	"0o17",
	"0b101",
	"1e400",
	"1e-400",
	"1_000",
	"~",
	"null",
	"yes",
	"no",
	"on",
	"off",
	"'0.5'",
	'"0.5"',
	"[]",
	"{}",
	"-0",
	"9007199254740993",
	"0.5.5",
	"''",
	'""',
	"!!float 1",
	"!!int 1.5",
	"!!str 3",
	"!!bool yes",
	"1:30",
	"2001-12-14",
	".5",
	"+1",
	"0.",
	"1e5",
	"12345678901234567890123",
	"*undefined",
	"&anchor 0.5",
	"!!binary aGVsbG8=",
	"!!null ''",
	"? x",
	"- x",
	"|\n  block",
	">\n  folded",
	'"\\u0000"',
	'"\\ud800"',
	"'\u0000'",
	"\u202e",
	"\ud83d",
];

/** Whole lines spliced into the document at some indentation. */
const LINES = [
	"__proto__: {weight: 1}",
	"__proto__:\n  polluted: true",
	"constructor: 1",
	"toString: x",
	"hasOwnProperty: 1",
	"!!python/object:os.system ls",
	"x: !!python/object/apply:os.system [ls]",
	"x: !custom 1",
	"!!set {a, b}: 1",
	"x: !!omap [a: 1, b: 2]",
	"x: !!set {a, b}",
	"x: !!timestamp 2001-12-14",
	"x: !<tag:yaml.org,2002:str> y",
	"%YAML 1.1",
	"%TAG ! tag:example.com,2000:",
	"---",
	"...",
	"--- !!map",
	"x: &a [*a]",
	"a: &a\n  b: *a",
	"<<: *base",
	"<<: {merge_method: linear}",
	"base: &base {merge_method: ties}",
	"x: *nothere",
	"? [complex, key]\n: value",
	"? {a: 1}\n: 2",
	"x: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	"x: {a: {b: {c: {d: {e: {f: {g: 1}}}}}}}",
	"\tx: 1",
	"x: 1 # comment",
	"# comment only",
	'x: "unterminated',
	"x: 'it''s'",
	"x: |\n  multi\n  line",
	"'merge_method': linear",
	"merge_method: [linear]",
	"models: {}",
	"models: []",
	"slices: []",
	"parameters: null",
	"parameters: [1, 2]",
	"models:\n  - model: a\n    parameters:\n      weight: [1, {filter: x, value: 1}]",
	"models:\n  - model: a\n    layer_range: [0, 1]",
	"seed: -1",
	"seed: 1.5",
	"seed: 99999999999999999999",
	"dtype: int8",
	"tokenizer: {source: union}",
	"tokenizer: {tokens: {}}",
	"modules: {}",
	"name: ''",
	"\ufeffx: 1",
];

/** Billion-laughs style alias expansion, as deep as `levels`. */
function laughs(levels: number): string {
	const lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
	for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(", ")}]`);
	return lines.join("\n");
}

type TextMutation = (lines: string[], r: FuzzRandom) => string;

const MUTATIONS: TextMutation[] = [
	(lines, r) => {
		// A value replaced by a strange scalar.
		const candidates = lines.map((l, i) => [l, i] as const).filter(([l]) => /:\s*\S/.test(l) || /^\s*-\s*\S/.test(l));
		if (candidates.length === 0) return "none";
		const [line, i] = r.pick(candidates);
		lines[i] = line.replace(/(:\s*|^\s*-\s*)\S.*$/, (_m, lead: string) => `${lead}${r.pick(SCALARS)}`);
		return "scalar";
	},
	(lines, r) => {
		// A line spliced in, at the indentation of its neighbour or another.
		const at = r.int(lines.length + 1);
		const indent = r.chance(0.6) ? (/^\s*/.exec(lines[at] ?? "")?.[0] ?? "") : " ".repeat(r.pick([0, 1, 2, 4, 6]));
		lines.splice(
			at,
			0,
			...r
				.pick(LINES)
				.split("\n")
				.map((l) => indent + l),
		);
		return "line";
	},
	(lines, r) => {
		// An anchor on one value and an alias to it elsewhere (or to a missing one, or to itself).
		const values = lines.map((l, i) => [l, i] as const).filter(([l]) => /:\s*\S/.test(l));
		if (values.length === 0) return "none";
		const [line, i] = r.pick(values);
		lines[i] = line.replace(/:\s*/, ": &x ");
		const [other, j] = r.pick(values);
		lines[j] = (j === i ? lines[j]! : other).replace(/:\s*(&x\s*)?\S.*$/, r.chance(0.8) ? ": *x" : ": *y");
		return "alias";
	},
	(lines, r) => {
		lines.push(laughs(r.range(2, 9)));
		return "laughs";
	},
	(lines, r) => {
		// Blind line edits: duplicate (repeated keys), delete, swap, re-indent.
		const i = r.int(lines.length);
		const op = r.int(4);
		if (op === 0) lines.splice(i, 0, lines[i] ?? "");
		else if (op === 1) lines.splice(i, 1);
		else if (op === 2) {
			const j = r.int(lines.length);
			[lines[i], lines[j]] = [lines[j] ?? "", lines[i] ?? ""];
		} else lines[i] = (r.chance(0.5) ? r.pick([" ", "  ", "\t"]) : "") + (lines[i] ?? "").replace(/^ {1,2}/, "");
		return "lines";
	},
	(lines, r) => {
		// Blind character edits.
		const text = lines.join("\n");
		const at = r.int(text.length + 1);
		const ch = r.pick([
			":",
			"-",
			"[",
			"]",
			"{",
			"}",
			",",
			"&",
			"*",
			"!",
			"|",
			">",
			"'",
			'"',
			"#",
			"%",
			"@",
			"`",
			"\t",
			"\n",
			" ",
			"\u0000",
			"\u00a0",
			"\ufeff",
			"\ud800",
			"é",
		]);
		const edited = r.chance(0.5) ? text.slice(0, at) + ch + text.slice(at) : text.slice(0, at) + text.slice(at + r.range(1, 4));
		lines.splice(0, lines.length, ...edited.split("\n"));
		return "chars";
	},
	(lines, r) => {
		lines.splice(r.int(lines.length + 1));
		return "truncate";
	},
	(lines, r) => {
		// A second document, or CRLF line ends.
		if (r.chance(0.5)) lines.push("---", ...lines.slice(0, r.int(lines.length + 1)));
		else lines.splice(0, lines.length, ...lines.join("\r\n").split("\n"));
		return "document";
	},
];

/** Applies `count` mutations to `text`; returns the new text and the labels. */
export function mutateRecipe(text: string, r: FuzzRandom, count: number): { text: string; labels: string[] } {
	const lines = text.split("\n");
	const labels: string[] = [];
	for (let i = 0; i < count; i++) labels.push(r.pick(MUTATIONS)(lines, r));
	return { text: lines.join("\n"), labels };
}
