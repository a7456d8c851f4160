import { ECE_BINS } from "../eval/score.js";
import { accuracyOf, bestRows, type Column, eceOf, shortParamNames, taskColumns } from "./columns.js";
import type { QuantizedComparison, ReportData, ReportRow } from "./types.js";

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
	const escapeCell = (c: string) => c.replace(/\|/g, "\\|");
	const line = (cells: readonly string[]) => `| ${cells.map(escapeCell).join(" | ")} |`;
	return [line(header), line(header.map(() => "---")), ...body.map(line)].join("\n");
}

function accText(row: ReportRow, col: Column): string {
	const a = accuracyOf(row, col);
	if (a === undefined) return "–";
	return a.seeds > 1 ? `${a.mean.toFixed(1)} ± ${a.std.toFixed(1)}` : a.mean.toFixed(1);
}

function bold(text: string, on: boolean): string {
	return on && text !== "–" ? `**${text}**` : text;
}

/** Rows that have scores (done trials and every model), the ones the score tables show. */
function scored(rows: readonly ReportRow[]): ReportRow[] {
	return rows.filter((r) => r.status === undefined || r.status === "done");
}

/** The sweep's results table for terminals: one row per trial with the varied values, per-task accuracy, objective, seconds and status. */
export function renderTrialTable(data: ReportData): string {
	const names = data.swept;
	const short = shortParamNames(names);
	const cols = taskColumns(data.rows);
	const header = ["#", ...names.map((p) => short.get(p) ?? p), ...cols.map((c) => c.label), data.objective ?? "objective", "s", "status"];
	const best = Math.max(...data.rows.map((r) => r.objective ?? -Infinity));
	const body = data.rows.map((r, i) => [
		String(i + 1),
		...names.map((p) => (r.params !== undefined && p in r.params ? JSON.stringify(r.params[p]) : "–")),
		...cols.map((c) => (r.status === "done" || r.status === undefined ? (accuracyOf(r, c)?.mean.toFixed(1) ?? "–") : "–")),
		r.objective !== undefined ? bold(r.objective.toFixed(2), r.objective === best) : "–",
		r.seconds !== undefined ? r.seconds.toFixed(1) : "–",
		r.status ?? "done",
	]);
	return table(header, body);
}

function quantizedTable(q: QuantizedComparison): string {
	const rows: ReportRow[] = [
		{ label: q.reference.label, kind: "model", tasks: q.reference.tasks },
		...q.variants.map((v): ReportRow => ({ label: v.label, kind: "model", tasks: v.tasks })),
	];
	const cols = taskColumns(rows);
	const avg = cols[cols.length - 1] as Column;
	const ref = accuracyOf(rows[0] as ReportRow, avg)?.mean;
	const body = rows.map((r, i) => {
		const v = i === 0 ? undefined : q.variants[i - 1];
		const mean = accuracyOf(r, avg)?.mean;
		return [
			r.label,
			...cols.map((c) => accText(r, c)),
			i === 0 || mean === undefined || ref === undefined ? "–" : `${mean - ref >= 0 ? "+" : ""}${(mean - ref).toFixed(1)}`,
			v?.bytes !== undefined ? `${(v.bytes / 1e9).toFixed(2)} GB` : "–",
			v?.tokensPerSecond !== undefined ? v.tokensPerSecond.toFixed(1) : "–",
		];
	});
	return table(["Variant", ...cols.map((c) => c.label), `Δ ${avg.label}`, "Size", "Tokens/s"], body);
}

/**
 * The report as Markdown: the accuracy table in the paper's Table 2 layout (best per column in bold),
 * the ECE table, the trials table when there are sweep trials, the quantized-variant comparison when
 * present, and failed trials.
 */
export function renderReportMarkdown(data: ReportData): string {
	const rows = scored(data.rows);
	const cols = taskColumns(rows);
	const header = ["Model", ...cols.map((c) => c.label)];
	const bestAcc = bestRows(rows, cols, (r, c) => accuracyOf(r, c)?.mean, true);
	const bestEce = bestRows(rows, cols, eceOf, false);
	const out: string[] = [`# ${data.title}`, ""];
	const settings = [...new Set(rows.map((r) => r.settings).filter((s): s is string => s !== undefined))];
	if (settings.length > 0) out.push(`Settings: ${settings.join("; ")}.`, "");
	out.push(
		"## Accuracy (%)",
		"",
		table(
			header,
			rows.map((r, i) => [r.label, ...cols.map((c, j) => bold(accText(r, c), bestAcc[j]?.has(i) === true))]),
		),
		"",
	);
	out.push(
		`## Calibration: ECE (%), ${ECE_BINS} bins (lower is better)`,
		"",
		table(
			header,
			rows.map((r, i) => [r.label, ...cols.map((c, j) => bold(eceOf(r, c)?.toFixed(1) ?? "–", bestEce[j]?.has(i) === true))]),
		),
		"",
	);
	if (data.rows.some((r) => r.kind === "trial"))
		out.push("## Trials", "", renderTrialTable({ ...data, rows: data.rows.filter((r) => r.kind === "trial") }), "");
	for (const q of data.quantized) out.push(`## Quantized variants: ${q.model}`, "", quantizedTable(q), "");
	const failed = data.rows.filter((r) => r.status === "failed");
	if (failed.length > 0) out.push("## Failed trials", "", ...failed.map((r) => `- ${r.label}: ${r.error ?? "failed"}`), "");
	return out.join("\n");
}
