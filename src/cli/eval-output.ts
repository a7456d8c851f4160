import { existsSync, statSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Where `merge eval` writes: the report file (`--json FILE` or `--output_path FILE|DIR`) and, beside it, one
 * checkpoint per run (`report.checkpoint.jsonl`, or `report.<n>-<name>.checkpoint.jsonl` when several models
 * or weight formats are scored in one command).
 */

/** A file-system-safe form of a model name or quant ("BioMistral/BioMistral-7B" → "BioMistral--BioMistral-7B"). */
function safeName(s: string): string {
	return s.replace(/[/\\]/g, "--").replace(/[^A-Za-z0-9._+=-]/g, "_");
}

/** The report path for `--json` / `--output_path`: a folder (existing, or ending in "/") gets `<label>.json` inside. */
export function reportPath(value: string, label: string): string {
	const isDir = value.endsWith("/") || value.endsWith(path.sep) || (existsSync(value) && statSync(value).isDirectory());
	return isDir ? path.join(value, `${safeName(label)}.json`) : value;
}

/** The checkpoint of run `index` of `count` (label: model name and quant) for a report written to `report`. */
export function checkpointPath(report: string, index: number, count: number, label: string): string {
	const stem = report.replace(/\.json$/i, "");
	return count === 1 ? `${stem}.checkpoint.jsonl` : `${stem}.${index + 1}-${safeName(label)}.checkpoint.jsonl`;
}

/** Writes `text` to `file` under a temporary name first, so a reader never sees half a report. */
export async function writeAtomic(file: string, text: string): Promise<void> {
	const tmp = `${file}.partial-${process.pid}`;
	await writeFile(tmp, text);
	await rename(tmp, file);
}
