import type { EvalReport } from "./types.js";

/** Indents every line after the first by `pad`. */
function indent(text: string, pad: string): string {
	return text.split("\n").join(`\n${pad}`);
}

/** One report: the settings and summaries pretty-printed, the per-prompt items one compact line each. */
function formatOne(report: EvalReport): string {
	const { items, ...rest } = report;
	const marker = "\u0000items\u0000";
	const head = JSON.stringify({ ...rest, items: marker }, null, 2);
	const body = items.length === 0 ? "[]" : `[\n${items.map((i) => `    ${JSON.stringify(i)}`).join(",\n")}\n  ]`;
	return head.replace(JSON.stringify(marker), () => body);
}

/**
 * The JSON text of a report (or of several: an array), as `--json` writes it. Items take one line each so a
 * paper-scale report (~25,000 prompts) stays a few MB and greps well; JSON.parse gives back the same object.
 */
export function formatReportJson(reports: EvalReport | readonly EvalReport[]): string {
	if (!Array.isArray(reports)) return `${formatOne(reports as EvalReport)}\n`;
	const list = reports as readonly EvalReport[];
	if (list.length === 0) return "[]\n";
	return `[\n  ${list.map((r) => indent(formatOne(r), "  ")).join(",\n  ")}\n]\n`;
}
