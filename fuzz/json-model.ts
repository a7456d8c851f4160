/**
 * A JSON document as the header fuzzer edits it: objects keep duplicate keys, numbers are kept as their text (so
 * `2.0` and `1e400` survive), strings carry how to escape them, and `raw` splices any text in, valid or not. Each
 * node serialises to exactly one run of text, so a mutation can replace any node by anything.
 */
import type { FuzzRandom } from "./random.js";

export type JsonNode =
	| { t: "obj"; pairs: Array<[JsonString, JsonNode]> }
	| { t: "arr"; items: JsonNode[] }
	| JsonString
	| { t: "raw"; text: string };

/** How a string is written: plain JSON escaping, every non-ASCII or letter as `\u` escapes, or its text as is. */
export interface JsonString {
	t: "str";
	value: string;
	escape?: "json" | "unicode" | "verbatim";
}

export const str = (value: string): JsonString => ({ t: "str", value });
export const num = (n: number | bigint | string): JsonNode => ({ t: "raw", text: String(n) });
export const obj = (pairs: Array<[string, JsonNode]>): JsonNode => ({ t: "obj", pairs: pairs.map(([k, v]) => [str(k), v]) });
export const arr = (items: JsonNode[]): JsonNode => ({ t: "arr", items });

/** Whitespace between tokens: none (as writers emit), or a random mix of the four JSON whitespace bytes. */
export type Spacing = (r: FuzzRandom) => string;
export const compact: Spacing = () => "";
export const loose: Spacing = (r) => (r.chance(0.7) ? "" : r.pick([" ", "\n", "\t", "\r\n", "  "]));

export function serialize(node: JsonNode, r: FuzzRandom, ws: Spacing = compact): string {
	switch (node.t) {
		case "raw":
			return node.text;
		case "str":
			return quote(node);
		case "arr":
			return `[${ws(r)}${node.items.map((i) => serialize(i, r, ws)).join(`${ws(r)},${ws(r)}`)}${ws(r)}]`;
		case "obj":
			return `{${ws(r)}${node.pairs.map(([k, v]) => `${quote(k)}${ws(r)}:${ws(r)}${serialize(v, r, ws)}`).join(`${ws(r)},${ws(r)}`)}${ws(r)}}`;
	}
}

function quote(s: JsonString): string {
	if (s.escape === "verbatim") return `"${s.value}"`;
	if (s.escape !== "unicode") return JSON.stringify(s.value);
	let out = '"';
	for (let i = 0; i < s.value.length; i++) out += `\\u${s.value.charCodeAt(i).toString(16).padStart(4, "0")}`;
	return `${out}"`;
}

/** Every node of the tree with a way to replace it (the root included). */
export function nodesOf(root: { node: JsonNode }): Array<{ node: JsonNode; set(n: JsonNode): void }> {
	const out: Array<{ node: JsonNode; set(n: JsonNode): void }> = [];
	const walk = (node: JsonNode, set: (n: JsonNode) => void) => {
		out.push({ node, set });
		if (node.t === "obj")
			for (const p of node.pairs)
				walk(p[1], (n) => {
					p[1] = n;
				});
		if (node.t === "arr")
			for (const [i, item] of node.items.entries())
				walk(item, (n) => {
					node.items[i] = n;
				});
	};
	walk(root.node, (n) => (root.node = n));
	return out;
}
