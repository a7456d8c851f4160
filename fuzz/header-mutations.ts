/**
 * Mutations of a valid safetensors file, from the structured (a dtype, a dim, an offset, a duplicate key) to the
 * blind (a flipped byte, a bad UTF-8 sequence, a forged length prefix). Structured ones edit the JSON tree before
 * it is written; byte ones edit the written bytes. Each returns a short label, so a failing case says what it did.
 */
import { MAX_JSON_DEPTH } from "../src/io/json-scanner.js";
import { ALL_DTYPES, type HeaderFile } from "./header-corpus.js";
import { arr, type JsonNode, nodesOf, num, obj, str } from "./json-model.js";
import type { FuzzRandom } from "./random.js";

/** Number lexemes where an integer belongs: edge values, non-integers and numbers beyond 2^53. */
const NUMBERS = [
	"0",
	"1",
	"-1",
	"-0",
	"2.0",
	"2e0",
	"1E+1",
	"1e400",
	"0.5",
	"4294967296",
	"9007199254740991",
	"9007199254740992",
	"18446744073709551615",
	"18446744073709551616",
	`1${"0".repeat(400)}`,
	"1073741824",
	"2147483648",
];

/** Values of every JSON type, for fields that expect another (anyValue gives a fresh copy: mutations edit nodes in place). */
const ANY_VALUES: readonly JsonNode[] = [
	num(0),
	num(-3.5),
	{ t: "raw", text: "true" },
	{ t: "raw", text: "null" },
	str(""),
	str("F32"),
	arr([]),
	arr([num(1), str("x")]),
	obj([]),
	obj([["a", num(1)]]),
];

function anyValue(r: FuzzRandom): JsonNode {
	return structuredClone(r.pick(ANY_VALUES));
}

/** Text spliced in to break the grammar or probe what lexers forgive. */
const GARBAGE = [
	"//c\n",
	"/*c*/",
	",",
	",,",
	"]",
	"}",
	"[",
	"{",
	":",
	'"',
	"\\",
	"\u0000",
	"\ufeff",
	"'",
	"NaN",
	"Infinity",
	"undefined",
	"\t",
	"\u000b",
	"\u00a0",
	"tru",
	"nul",
];

/** Byte sequences that are not valid UTF-8 (or only barely are). */
const BAD_UTF8 = [
	[0xff],
	[0xc0, 0x80],
	[0xed, 0xa0, 0x80],
	[0xe2, 0x82],
	[0xf4, 0x90, 0x80, 0x80],
	[0x80],
	[0xf0, 0x9f, 0x98],
	[0xc3],
	[0xef, 0xbb, 0xbf],
	[0xf0, 0x9f, 0x98, 0x80],
];

/** String escapes, valid and not. */
const ESCAPES = [
	"\\u0041",
	"\\ud83d\\ude00",
	"\\ud800",
	"\\udc00",
	"\\ud800\\u0041",
	"\\x41",
	"\\u12",
	"\\U0041",
	"\\/",
	"\\b",
	"\\'",
	"\\0",
	"\\ud83d\\ud83d",
];

type TreeMutation = (f: HeaderFile, r: FuzzRandom) => string | undefined;

/** The object node of tensor entries (skipping metadata), with its key. */
function entries(f: HeaderFile): Array<[{ value: string }, JsonNode]> {
	const root = f.root.node;
	return root.t === "obj" ? root.pairs.filter(([k]) => k.value !== "__metadata__") : [];
}

/** A field node of a random tensor entry. */
function field(f: HeaderFile, r: FuzzRandom, name: string): { node: JsonNode; set(n: JsonNode): void } | undefined {
	const list = entries(f).filter(([, v]) => v.t === "obj");
	if (list.length === 0) return undefined;
	const entry = r.pick(list)[1] as Extract<JsonNode, { t: "obj" }>;
	const pair = entry.pairs.find(([k]) => k.value === name);
	return pair === undefined ? undefined : { node: pair[1], set: (n) => (pair[1] = n) };
}

const TREE_MUTATIONS: TreeMutation[] = [
	(f, r) => {
		const d = field(f, r, "dtype");
		if (d === undefined) return undefined;
		const to = r.chance(0.5)
			? str(r.pick(ALL_DTYPES))
			: r.chance(0.5)
				? str(r.pick(["f32", "F128", "BF", "", "F32 ", "U8\u0000"]))
				: anyValue(r);
		d.set(to);
		return "dtype";
	},
	(f, r) => {
		const s = field(f, r, "shape");
		if (s === undefined) return undefined;
		if (s.node.t === "arr" && r.chance(0.7)) {
			const items = s.node.items;
			const op = r.int(4);
			if (op === 0 && items.length > 0) items[r.int(items.length)] = num(r.pick(NUMBERS));
			else if (op === 1) items.push(num(r.pick(NUMBERS)));
			else if (op === 2) items.pop();
			else items.splice(r.int(items.length + 1), 0, anyValue(r));
		} else s.set(anyValue(r));
		return "shape";
	},
	(f, r) => {
		const o = field(f, r, "data_offsets");
		if (o === undefined) return undefined;
		if (o.node.t === "arr" && r.chance(0.8)) {
			const items = o.node.items;
			const op = r.int(5);
			const i = r.int(Math.max(1, items.length));
			if (op === 0) items[i] = num(r.pick(NUMBERS));
			else if (op === 1 && items[i]?.t === "raw")
				items[i] = num(Number((items[i] as { text: string }).text) + r.pick([-1, 1, 2, -2, 1024]));
			else if (op === 2) items.reverse();
			else if (op === 3) items.push(num(r.int(64)));
			else items.splice(i, 1);
		} else o.set(anyValue(r));
		return "offsets";
	},
	(f, r) => {
		// A duplicate tensor name, or a duplicate / missing / extra field in an entry.
		const root = f.root.node;
		if (root.t !== "obj" || root.pairs.length === 0) return undefined;
		const pair = r.pick(root.pairs);
		const op = r.int(4);
		if (op === 0) root.pairs.splice(r.int(root.pairs.length + 1), 0, structuredClone(pair));
		else if (pair[1].t === "obj" && pair[1].pairs.length > 0) {
			const entry = pair[1];
			const fieldPair = r.pick(entry.pairs);
			if (op === 1) entry.pairs.push(structuredClone(fieldPair));
			else if (op === 2) entry.pairs.splice(entry.pairs.indexOf(fieldPair), 1);
			else entry.pairs.splice(r.int(entry.pairs.length + 1), 0, [str(r.pick(["extra", "dtype2", "", "__proto__"])), anyValue(r)]);
		} else return undefined;
		return "keys";
	},
	(f, r) => {
		// Metadata of the wrong shape, repeated, or a key named like it.
		const root = f.root.node;
		if (root.t !== "obj") return undefined;
		const meta = obj([[r.pick(["format", "k", "__proto__"]), r.chance(0.5) ? str("v") : anyValue(r)]]);
		const value = r.chance(0.7) ? meta : anyValue(r);
		const at = root.pairs.findIndex(([k]) => k.value === "__metadata__");
		if (at >= 0 && r.chance(0.5)) root.pairs[at]![1] = value;
		else root.pairs.splice(r.int(root.pairs.length + 1), 0, [str("__metadata__"), value]);
		return "metadata";
	},
	(f, r) => {
		// Any node replaced by a value of any type (the root too).
		const nodes = nodesOf(f.root);
		r.pick(nodes).set(anyValue(r));
		return "node";
	},
	(f, r) => {
		// Deep nesting around the depth limit, in an ignored field or as the whole root.
		const depth = MAX_JSON_DEPTH + r.range(-4, 2);
		const deep: JsonNode = { t: "raw", text: "[".repeat(depth) + "]".repeat(depth) };
		const root = f.root.node;
		if (root.t === "obj" && r.chance(0.8)) {
			const entry = entries(f).find(([, v]) => v.t === "obj");
			if (entry === undefined) return undefined;
			(entry[1] as Extract<JsonNode, { t: "obj" }>).pairs.push([str("x"), deep]);
		} else f.root.node = deep;
		return "depth";
	},
	(f, r) => {
		// A key or string value written with raw escapes, valid or not.
		const strings = nodesOf(f.root).filter((n) => n.node.t === "str");
		const root = f.root.node;
		const keys = root.t === "obj" ? root.pairs.map(([k]) => k) : [];
		const target =
			r.chance(0.5) && keys.length > 0
				? r.pick(keys)
				: strings.length > 0
					? (r.pick(strings).node as { value: string; escape?: string })
					: undefined;
		if (target === undefined) return undefined;
		const at = r.int(target.value.length + 1);
		target.value =
			JSON.stringify(target.value.slice(0, at)).slice(1, -1) + r.pick(ESCAPES) + JSON.stringify(target.value.slice(at)).slice(1, -1);
		target.escape = "verbatim";
		return "escape";
	},
];

/** Byte-level mutations of the serialised header JSON. */
const BYTE_MUTATIONS: Array<(json: Uint8Array, r: FuzzRandom) => Uint8Array> = [
	(j, r) => splice(j, r.int(j.length + 1), r.chance(0.5) ? 1 : 0, utf8(r.pick(GARBAGE))),
	(j, r) => splice(j, r.int(j.length + 1), 0, Uint8Array.from(r.pick(BAD_UTF8))),
	(j, r) => {
		const out = j.slice();
		if (out.length > 0) out[r.int(out.length)] = r.chance(0.5) ? r.int(256) : out[r.int(out.length)]! ^ (1 << r.int(8));
		return out;
	},
	(j, r) => splice(j, r.int(j.length + 1), r.range(1, 8), new Uint8Array(0)),
	(j, r) => j.subarray(0, r.int(j.length + 1)),
	(j, r) =>
		r.chance(0.5)
			? concat(utf8(r.pick(["\ufeff", " ", "\n", "\u0000", "\r\n"])), j)
			: concat(j, utf8(r.pick(["    ", "\u0000\u0000", "\n", "x", "{}", "\t"]))),
	(j, r) => {
		// A duplicated run of bytes (repeats keys, values or whole entries when it lands well).
		const a = r.int(j.length + 1);
		const b = Math.min(j.length, a + r.range(1, 64));
		return splice(j, r.int(j.length + 1), 0, j.slice(a, b));
	},
];

const utf8 = (s: string) => new TextEncoder().encode(s);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
	const out = new Uint8Array(a.length + b.length);
	out.set(a);
	out.set(b, a.length);
	return out;
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
	return concat(concat(bytes.subarray(0, at), insert), bytes.subarray(Math.min(bytes.length, at + remove)));
}

/** Applies `count` tree mutations; returns their labels. */
export function mutateTree(f: HeaderFile, r: FuzzRandom, count: number): string[] {
	const done: string[] = [];
	for (let i = 0; i < count; i++) {
		const label = r.pick(TREE_MUTATIONS)(f, r);
		if (label !== undefined) done.push(label);
	}
	return done;
}

/** Applies `count` byte mutations to the header JSON. */
export function mutateBytes(json: Uint8Array, r: FuzzRandom, count: number): Uint8Array {
	let out = json;
	for (let i = 0; i < count; i++) out = r.pick(BYTE_MUTATIONS)(out, r);
	return out;
}

/** A forged length prefix: near the true length, zero, past the end, above the cap, or any u64. */
export function forgedLength(r: FuzzRandom, trueLength: number, fileLength: number): bigint {
	const choices = [
		() => BigInt(Math.max(0, trueLength + r.range(-8, 8))),
		() => 0n,
		() => BigInt(fileLength),
		() => BigInt(fileLength - 7),
		() => 100_000_001n,
		() => 2n ** 63n,
		() => 2n ** 64n - 1n,
		() => BigInt(r.int(2 ** 31)),
	];
	return r.pick(choices)();
}
