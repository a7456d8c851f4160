import type { Document, Node, Pair } from "yaml";
import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from "yaml";
import { RecipeError } from "../errors.js";
import { formatYamlPath } from "./yaml-path.js";

/**
 * Recipes are a few kilobytes; 4 MiB still fits a 100,000-value gradient while keeping the parse bounded in
 * time and memory (the YAML parser builds a node per value).
 */
export const MAX_RECIPE_BYTES = 4 * 1024 * 1024;

/**
 * Aliases (`*name`) may each expand a whole anchored subtree; nested ones grow exponentially ("billion
 * laughs"). A real recipe reuses a parameter block a handful of times, so 100 expansions is plenty; it is also
 * the most aliases a recipe may hold.
 */
const MAX_ALIAS_COUNT = 100;

/** The only tags a recipe may carry: YAML 1.2 core types. Anything else (`!!python/object`, `!custom`) is refused. */
const ALLOWED_TAGS = new Set(["str", "int", "float", "bool", "null", "map", "seq"].map((t) => `tag:yaml.org,2002:${t}`));

/** A parsed YAML document: its plain value, plus a way to map a path back to a line and column. */
export interface YamlSource {
	value: unknown;
	/** 1-based line and column of the node at `path` (or of its nearest existing ancestor). */
	locate(path: readonly PropertyKey[]): { line: number; col: number } | undefined;
}

type Ancestor = Document | Node | Pair;

function keyOf(key: unknown): string {
	return isScalar(key) ? String(key.value) : String(key);
}

/** Path segments of `node`, given the ancestors `visit` reports (Document first). */
function segmentsOf(ancestors: readonly Ancestor[], node: unknown): (string | number)[] {
	const chain = [...ancestors.slice(1), node];
	const out: (string | number)[] = [];
	for (let i = 0; i + 1 < chain.length; i++) {
		const a = chain[i];
		const next = chain[i + 1];
		if (isMap(a) && isPair(next)) out.push(keyOf(next.key));
		else if (isSeq(a)) out.push(a.items.indexOf(next as never));
	}
	return out;
}

/** Path of the mapping key or node that starts at `offset` (where the yaml library reports an error). */
function pathAtOffset(doc: Document, offset: number): string {
	let found = "";
	visit(doc, {
		Pair(_, pair, ancestors) {
			const key = pair.key as Node | null;
			if (key?.range != null && key.range[0] <= offset && offset < key.range[1]) {
				found = formatYamlPath(segmentsOf(ancestors, pair));
				return visit.BREAK;
			}
			return undefined;
		},
	});
	return found;
}

/** Follows `path` through the document's nodes; returns the deepest node reached. */
function nodeAt(doc: Document, path: readonly PropertyKey[]): Node | undefined {
	let node = doc.contents as Node | null;
	for (const seg of path) {
		if (isAlias(node)) node = (node.resolve(doc) as Node | undefined) ?? node;
		if (isMap(node)) {
			const pair = node.items.find((p) => keyOf(p.key) === String(seg));
			if (pair === undefined) break;
			node = (pair.value as Node | null) ?? (pair.key as Node | null);
		} else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
			node = node.items[seg] as Node;
		} else break;
	}
	return node ?? undefined;
}

/** First line of a yaml-library message, without the position it appends. */
function shortMessage(message: string): string {
	return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
}

/**
 * Parses one YAML document safely: duplicate keys, unknown tags, multi-document input and excessive alias
 * expansion are errors (RecipeError kind "Yaml", or "Unsupported" for mergekit-multi files).
 */
export function readYaml(text: string, file?: string): YamlSource {
	const bytes = Buffer.byteLength(text, "utf8");
	if (bytes > MAX_RECIPE_BYTES) {
		throw new RecipeError("Yaml", "", `recipe is ${bytes} bytes, above the ${MAX_RECIPE_BYTES}-byte limit`, file);
	}
	const lines = new LineCounter();
	const where = (offset: number) => {
		const { line, col } = lines.linePos(offset);
		return ` (line ${line}, column ${col})`;
	};
	let doc: Document;
	try {
		doc = parseDocument(text, {
			lineCounter: lines,
			uniqueKeys: true,
			version: "1.2",
			schema: "core",
			merge: false,
			resolveKnownTags: false,
			customTags: [],
			prettyErrors: false,
		});
	} catch (e) {
		// The parser recurses per nesting level; absurdly deep input overflows the stack.
		throw new RecipeError("Yaml", "", `cannot parse the YAML: ${e instanceof Error ? shortMessage(e.message) : String(e)}`, file);
	}
	const err = doc.errors[0];
	if (err !== undefined) {
		if (err.code === "MULTIPLE_DOCS") {
			throw new RecipeError(
				"Unsupported",
				"",
				`several YAML documents ("---") in one recipe (mergekit-multi) are not supported; write one recipe per file${where(err.pos[0])}`,
				file,
			);
		}
		throw new RecipeError("Yaml", pathAtOffset(doc, err.pos[0]), `${shortMessage(err.message)}${where(err.pos[0])}`, file);
	}
	// Anchors seen so far, in document order (an alias refers to the latest anchor of its name before it). Kept here
	// because Alias.resolve() walks the whole document for each alias, quadratic in a file of many aliases.
	const anchors = new Map<string, unknown>();
	let aliases = 0;
	visit(doc, (_, node, ancestors) => {
		const anchor = (node as { anchor?: string } | null)?.anchor;
		if (anchor !== undefined) anchors.set(anchor, node);
		const tag = (node as { tag?: string } | null)?.tag;
		if (tag !== undefined && !ALLOWED_TAGS.has(tag)) {
			const range = (node as Node).range;
			const path = formatYamlPath(segmentsOf(ancestors, node));
			throw new RecipeError(
				"Yaml",
				path,
				`tag "${tag.replace(/^tag:yaml.org,2002:/, "!!")}" is not allowed in a recipe${range ? where(range[0]) : ""}`,
				file,
			);
		}
		// Found by the fuzzer (fuzz/): a key that is a list or a mapping made the yaml library print a warning, and
		// an alias inside its own anchor (`x: &a [*a]`) a circular value that crashed the error messages.
		const key = isPair(node) ? (isAlias(node.key) ? anchors.get(node.key.source) : node.key) : undefined;
		if (isCollection(key)) {
			const range = (node as Pair<Node>).key?.range;
			throw new RecipeError(
				"Yaml",
				formatYamlPath(segmentsOf(ancestors, node).slice(0, -1)),
				`a mapping key must be a plain value, not a list or a mapping${range ? where(range[0]) : ""}`,
				file,
			);
		}
		// The yaml library resolves each alias by walking the document, so many aliases cost quadratic time (8,000 took
		// 10 s): MAX_ALIAS_COUNT bounds their number as well as their expansion.
		if (isAlias(node) && ++aliases > MAX_ALIAS_COUNT) {
			const path = formatYamlPath(segmentsOf(ancestors, node));
			throw new RecipeError(
				"Yaml",
				path,
				`more than ${MAX_ALIAS_COUNT} aliases (*name) in one recipe${node.range ? where(node.range[0]) : ""}`,
				file,
			);
		}
		if (isAlias(node) && ancestors.includes(anchors.get(node.source) as Ancestor)) {
			const path = formatYamlPath(segmentsOf(ancestors, node));
			throw new RecipeError(
				"Yaml",
				path,
				`alias *${node.source} refers to a node that contains it (a self-referencing anchor)${node.range ? where(node.range[0]) : ""}`,
				file,
			);
		}
	});
	let value: unknown;
	try {
		value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
	} catch (e) {
		const why = e instanceof Error ? shortMessage(e.message) : String(e);
		throw new RecipeError("Yaml", "", `cannot expand the YAML (more than ${MAX_ALIAS_COUNT} alias expansions?): ${why}`, file);
	}
	return {
		value,
		locate(path) {
			const node = nodeAt(doc, path);
			if (node?.range == null) return undefined;
			return lines.linePos(node.range[0]);
		},
	};
}
