import { EvaluationError } from "../../errors.js";
import { readRegularText } from "../../io/regular-file.js";

/**
 * Largest data file read into memory. BioInstructQA's full multilingual JSON is the biggest input
 * (a few hundred MB); anything past 1 GiB is refused rather than exhausting the heap.
 */
const MAX_DATA_FILE_BYTES = 1024 * 1024 * 1024;

/** One raw record of a data file: its value, 1-based line, and 0-based index among the file's records. */
export interface RawRecord {
	value: unknown;
	line: number;
	index: number;
	/** The key for records of a JSON object keyed by id (PubMedQA's PMID). */
	key?: string;
}

/** Per-file loading state: where malformed records go. */
export interface LoadContext {
	file: string;
	/** Skip malformed records (collected as warnings) instead of stopping. */
	skipBad: boolean;
	warnings: string[];
}

/**
 * Reports a malformed record: throws EvaluationError "Data" naming file:line, or (skipBad) records a
 * warning and returns undefined so the caller can skip the record.
 */
export function badRecord(ctx: LoadContext, line: number, message: string): undefined {
	const text = `${ctx.file}:${line}: ${message}`;
	if (!ctx.skipBad) throw new EvaluationError("Data", text);
	ctx.warnings.push(`skipped ${text}`);
	return undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads a UTF-8 data file whole, with a size limit and a clear message when it is missing. A FIFO or a device
 * (`--data /dev/zero`) is refused before anything is read.
 */
export async function readDataFile(file: string): Promise<string> {
	try {
		return await readRegularText(file, { maxBytes: MAX_DATA_FILE_BYTES, fail: (why) => new EvaluationError("Data", `${file}: ${why}`) });
	} catch (err) {
		if (err instanceof EvaluationError) throw err;
		const code = (err as NodeJS.ErrnoException).code;
		throw new EvaluationError("Data", `${file}: ${code === "ENOENT" ? "no such file" : `cannot read (${code ?? String(err)})`}`);
	}
}

/** JSON Lines: one record per non-blank line; an unparsable line is a bad record. */
function parseJsonLines(text: string, ctx: LoadContext): RawRecord[] {
	const out: RawRecord[] = [];
	const lines = text.split("\n");
	let index = 0;
	for (let i = 0; i < lines.length; i++) {
		const line = (lines[i] ?? "").trim();
		if (line === "") continue;
		const at = index++;
		try {
			out.push({ value: JSON.parse(line) as unknown, line: i + 1, index: at });
		} catch (e) {
			badRecord(ctx, i + 1, `invalid JSON: ${(e as Error).message}`);
		}
	}
	return out;
}

/**
 * The 1-based line where each top-level member of a JSON array or object starts, found by scanning
 * the text once (strings and nesting tracked), so records of plain .json files get line numbers too.
 */
export function topLevelLines(text: string): number[] {
	const lines: number[] = [];
	let line = 1;
	let depth = 0;
	let inString = false;
	let expectMember = false;
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		if (c === "\n") line++;
		if (inString) {
			if (c === "\\") i++;
			else if (c === '"') inString = false;
			continue;
		}
		if (depth === 1 && expectMember && c !== undefined && !/\s/.test(c) && c !== "]" && c !== "}") {
			lines.push(line);
			expectMember = false;
		}
		if (c === '"') inString = true;
		else if (c === "[" || c === "{") {
			depth++;
			if (depth === 1) expectMember = true;
		} else if (c === "]" || c === "}") depth--;
		else if (c === "," && depth === 1) expectMember = true;
	}
	return lines;
}

/** A whole-file JSON document: an array gives one record per element, an object one per key. */
export function parseJsonDocument(text: string, ctx: LoadContext): RawRecord[] {
	let doc: unknown;
	try {
		doc = JSON.parse(text) as unknown;
	} catch (e) {
		throw new EvaluationError("Data", `${ctx.file}: invalid JSON: ${(e as Error).message}`);
	}
	const lines = topLevelLines(text);
	if (Array.isArray(doc)) {
		return doc.map((value: unknown, index) => ({ value, line: lines[index] ?? 1, index }));
	}
	if (isRecord(doc)) {
		return Object.entries(doc).map(([key, value], index) => ({ value, line: lines[index] ?? 1, index, key }));
	}
	throw new EvaluationError("Data", `${ctx.file}: expected a JSON array or object of records`);
}

/** Reads a .json document or .jsonl lines, whichever the file name says (.json that fails falls back to lines). */
export function parseRecords(text: string, ctx: LoadContext): RawRecord[] {
	if (/\.json$/i.test(ctx.file)) {
		const trimmed = text.trimStart();
		if (trimmed.startsWith("[") || (trimmed.startsWith("{") && !/^\{[^\n]*\}\s*\n\s*\{/.test(trimmed))) {
			return parseJsonDocument(text, ctx);
		}
	}
	return parseJsonLines(text, ctx);
}
