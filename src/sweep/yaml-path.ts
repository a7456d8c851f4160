import { type Document, isMap, isScalar, isSeq } from "yaml";
import { SweepError } from "../errors.js";

/** One step of a path into a recipe: a mapping key or a sequence index. */
export type PathSegment = string | number;

/** `models[1].parameters.density`, `parameters.t[0].value[2]`, `parameters["a.b"]` → segments. */
export function parseYamlPath(text: string, file?: string): PathSegment[] {
	const bad = (why: string): SweepError => new SweepError("Spec", `"${text}" is not a path into the recipe: ${why}`, file);
	const segments: PathSegment[] = [];
	let i = 0;
	while (i < text.length) {
		if (text[i] === "[") {
			const close = text.indexOf("]", i);
			if (close < 0) throw bad("a [ without ]");
			const inner = text.slice(i + 1, close);
			if (/^\d+$/.test(inner)) segments.push(Number(inner));
			else if (/^"(?:[^"\\]|\\.)*"$/.test(inner)) segments.push(JSON.parse(inner) as string);
			else throw bad(`[${inner}] is neither an index nor a quoted key`);
			i = close + 1;
			if (text[i] === ".") i++;
			continue;
		}
		const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i));
		if (m === null) throw bad(`unexpected "${text[i]}" at character ${i + 1}`);
		segments.push(m[0]);
		i += m[0].length;
		if (text[i] === ".") {
			i++;
			if (i === text.length) throw bad("it ends with a dot");
		} else if (i < text.length && text[i] !== "[") throw bad(`unexpected "${text[i]}" at character ${i + 1}`);
	}
	if (segments.length === 0) throw bad("it is empty");
	return segments;
}

/**
 * Sets `value` at `path` in a parsed recipe, keeping the rest of the document (comments included). The
 * parent must already exist, and an index must fall inside its sequence: a misspelt path fails here
 * instead of adding a key the recipe never had. A missing last key of a mapping is added (a parameter
 * the recipe leaves at its default).
 */
export function setYamlPath(doc: Document, path: readonly PathSegment[], value: unknown, label: string, file?: string): void {
	const fail = (why: string) => new SweepError("Spec", `${label}: ${why}`, file);
	for (let i = 0; i < path.length; i++) {
		const at = path.slice(0, i);
		const seg = path[i] as PathSegment;
		const container = i === 0 ? doc.contents : doc.getIn(at, true);
		if (typeof seg === "number") {
			if (!isSeq(container)) throw fail(`the recipe has no list at ${describe(at)}`);
			if (seg >= container.items.length) throw fail(`index ${seg} is past the end of ${describe(at)} (${container.items.length} entries)`);
		} else if (!isMap(container)) {
			throw fail(`the recipe has no mapping at ${describe(at)}`);
		}
		if (i === path.length - 1) break;
		const child = doc.getIn([...at, seg], true);
		if (child !== undefined && child !== null && !isEmptyScalar(child)) continue;
		// A recipe without a `parameters:` block (or with an empty one) leaves every parameter at its default.
		if (seg === "parameters" && i === path.length - 2 && isMap(container)) {
			doc.setIn([...at, seg], doc.createNode({}));
			continue;
		}
		throw fail(`the recipe has no ${describe([...at, seg])}`);
	}
	doc.setIn(path as PathSegment[], doc.createNode(value));
}

function isEmptyScalar(node: unknown): boolean {
	return isScalar(node) && node.value === null;
}

function describe(path: readonly PathSegment[]): string {
	if (path.length === 0) return "its top level";
	return path.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");
}
