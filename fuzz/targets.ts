/**
 * The two fuzz targets and what counts as a failure. A case is built from (seed, index) alone, run, and classified:
 *
 * - accepted: the input was read (and, for a header, everything it promises holds: the tensors tile the data and
 *   every float tensor decodes);
 * - rejected: the project's own error (an LmMergeError subclass) was thrown;
 * - crashed: anything else was thrown: a TypeError, a RangeError, a stack overflow ...;
 * - mismatch (headers only): the result differs from the reference reader's (test/io/reference-header.ts, the
 *   tree-building reader the one-pass parser replaced): another kind, another tensor, or another header.
 */
import { LmMergeError, SafetensorsError } from "../src/errors.js";
import { decodeToF32 } from "../src/io/convert.js";
import { isFloatDtype } from "../src/io/dtypes.js";
import { parseHeader } from "../src/io/header.js";
import type { SafetensorsHeader } from "../src/io/types.js";
import { parseRecipe } from "../src/recipe/load.js";
import { resolveSetting } from "../src/recipe/params.js";
import type { ParamTable } from "../src/recipe/schema.js";
import { referenceParseHeader } from "../test/io/reference-header.js";
import { validHeaderFile } from "./header-corpus.js";
import { forgedLength, mutateBytes, mutateTree } from "./header-mutations.js";
import { compact, loose, serialize } from "./json-model.js";
import { FuzzRandom } from "./random.js";
import { recipeText, validRecipe } from "./recipe-corpus.js";
import { mutateRecipe } from "./recipe-mutations.js";

export const TARGETS = ["header", "recipe"] as const;
export type Target = (typeof TARGETS)[number];

export type Verdict = "accepted" | "rejected" | "crashed" | "mismatch";

export interface Outcome {
	verdict: Verdict;
	/** The error kind of a rejection, or what went wrong for a crash or a mismatch. */
	detail?: string;
}

/** One generated input: the bytes (header) or text (recipe), what was done to it, and whether it is unmutated. */
export interface FuzzCase {
	target: Target;
	index: number;
	labels: string[];
	/** Unmutated inputs must be accepted. */
	valid: boolean;
	bytes?: Uint8Array;
	text?: string;
}

/** Case `index` of run `seed` for `target`: a valid input with 0–3 mutations. */
export function buildCase(target: Target, seed: number, index: number): FuzzCase {
	const r = new FuzzRandom(seed, target, index);
	const mutations = r.pick([0, 1, 1, 1, 2, 2, 3]);
	if (target === "recipe") {
		const { text, labels } = mutateRecipe(recipeText(validRecipe(r), r), r, mutations);
		return { target, index, labels, valid: mutations === 0, text };
	}
	const file = validHeaderFile(r);
	const tree = r.int(mutations + 1);
	const labels = mutateTree(file, r, tree);
	let json: Uint8Array = new TextEncoder().encode(serialize(file.root.node, r, r.chance(0.2) ? loose : compact));
	if (mutations > tree) {
		json = mutateBytes(json, r, mutations - tree);
		labels.push(`bytes×${mutations - tree}`);
	}
	let data = file.data;
	if (mutations > 0 && r.chance(0.1)) {
		data = r.chance(0.5) ? data.subarray(0, r.int(data.length + 1)) : Uint8Array.from([...data, ...r.bytes(r.range(1, 9))]);
		labels.push("data");
	}
	const bytes = new Uint8Array(8 + json.length + data.length);
	const length = mutations > 0 && r.chance(0.05) ? forgedLength(r, json.length, bytes.length) : BigInt(json.length);
	if (length !== BigInt(json.length)) labels.push("length");
	new DataView(bytes.buffer).setBigUint64(0, length, true);
	bytes.set(json, 8);
	bytes.set(data, 8 + json.length);
	return { target, index, labels, valid: mutations === 0, bytes };
}

/**
 * Runs a case and classifies the result. A process warning emitted meanwhile (which Node prints on stderr: nothing
 * below the CLI may print) counts as a crash.
 */
export function runCase(c: FuzzCase): Outcome {
	const emit = process.emitWarning;
	let warning: string | undefined;
	process.emitWarning = ((w: string | Error) => {
		warning ??= typeof w === "string" ? w : w.message;
	}) as typeof process.emitWarning;
	try {
		const outcome = c.target === "header" ? runHeader(c.bytes!) : runRecipe(c.text!);
		return warning === undefined
			? outcome
			: { verdict: "crashed", detail: `emitted a process warning (printed on stderr): ${warning.slice(0, 200)}` };
	} finally {
		process.emitWarning = emit;
	}
}

function describe(err: unknown): string {
	if (!(err instanceof Error)) return `non-Error thrown: ${String(err)}`;
	const at =
		err.stack
			?.split("\n")
			.find((l) => l.includes(" at "))
			?.trim() ?? "";
	return `${err.name}: ${err.message.slice(0, 300)} ${at}`;
}

type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };

function attempt<T>(f: () => T): Attempt<T> {
	try {
		return { ok: true, value: f() };
	} catch (error) {
		return { ok: false, error };
	}
}

const FILE = "fuzz.safetensors";

function runHeader(bytes: Uint8Array): Outcome {
	const ours = attempt(() => parseHeader(bytes, bytes.length, FILE));
	if (!ours.ok && !(ours.error instanceof LmMergeError)) return { verdict: "crashed", detail: describe(ours.error) };
	const ref = attempt(() => referenceParseHeader(bytes, bytes.length, FILE));
	const mismatch = compareWithReference(ours, ref);
	if (mismatch !== undefined) return { verdict: "mismatch", detail: mismatch };
	if (!ours.ok) return { verdict: "rejected", detail: (ours.error as SafetensorsError).kind };
	const broken = attempt(() => checkAccepted(ours.value, bytes));
	if (!broken.ok) return { verdict: "crashed", detail: `accepted header: ${describe(broken.error)}` };
	return { verdict: "accepted" };
}

function compareWithReference(ours: Attempt<SafetensorsHeader>, ref: Attempt<SafetensorsHeader>): string | undefined {
	const what = (a: Attempt<SafetensorsHeader>) =>
		a.ok
			? "accepted"
			: a.error instanceof SafetensorsError
				? `${a.error.kind}${a.error.tensor !== undefined ? ` (${JSON.stringify(a.error.tensor)})` : ""}`
				: describe(a.error);
	if (ours.ok !== ref.ok || (!ours.ok && what(ours) !== what(ref))) return `ours: ${what(ours)}; reference: ${what(ref)}`;
	if (ours.ok && ref.ok) {
		const a = JSON.stringify(canonical(ours.value));
		const b = JSON.stringify(canonical(ref.value));
		if (a !== b) return `both accepted, different headers: ours ${a.slice(0, 200)} reference ${b.slice(0, 200)}`;
	}
	return undefined;
}

/** A header as plain JSON data, with the metadata's own keys (also `__proto__`) in order. */
function canonical(h: SafetensorsHeader): unknown {
	return { dataStart: h.dataStart, tensors: [...h.tensors.entries()], metadata: Object.entries(h.metadata) };
}

/** What an accepted header promises: tensors tile the data section, and every float tensor decodes. */
function checkAccepted(h: SafetensorsHeader, bytes: Uint8Array): void {
	let end = 0;
	for (const [name, t] of h.tensors) {
		if (t.name !== name || t.byteOffset !== end)
			throw new Error(`tensor ${JSON.stringify(name)} does not start where the previous one ended`);
		end += t.byteLength;
		if (isFloatDtype(t.dtype)) decodeToF32(bytes.subarray(h.dataStart + t.byteOffset, h.dataStart + t.byteOffset + t.byteLength), t.dtype);
	}
	if (h.dataStart + end !== bytes.length) throw new Error("the tensors do not end at the end of the file");
}

function runRecipe(text: string): Outcome {
	const parsed = attempt(() => parseRecipe(text, "fuzz.yml"));
	if (!parsed.ok) {
		return parsed.error instanceof LmMergeError
			? { verdict: "rejected", detail: (parsed.error as { kind?: string }).kind ?? "?" }
			: { verdict: "crashed", detail: describe(parsed.error) };
	}
	// What the planner does next with an accepted recipe, minus the models: serialise it, resolve every setting.
	const used = attempt(() => {
		JSON.stringify(parsed.value);
		const r = parsed.value;
		const tables: ParamTable[] = [
			r.parameters,
			...(r.models ?? []).map((m) => m.parameters),
			...(r.slices ?? []).flatMap((s) => [s.parameters, ...s.sources.map((src) => src.parameters)]),
		];
		for (const table of tables) {
			for (const entry of Object.values(table)) {
				for (const t of [0, 0.3, 1])
					for (const name of ["model.layers.0.self_attn.q_proj.weight", "lm_head.weight", ""]) resolveSetting(entry.setting, name, t);
			}
		}
	});
	return used.ok ? { verdict: "accepted" } : { verdict: "crashed", detail: `accepted recipe: ${describe(used.error)}` };
}
