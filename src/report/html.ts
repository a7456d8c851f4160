import { ECE_BINS } from "../eval/score.js";
import { type ChartSpec, chartSpecs, renderCharts } from "./charts.js";
import { accuracyOf, bestRows, type Column, eceOf, shortParamNames, taskColumns } from "./columns.js";
import type { QuantizedComparison, ReportData, ReportRow } from "./types.js";

function esc(s: string): string {
	return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function cell(text: string, opts: { best?: boolean; num?: boolean } = {}): string {
	const cls = [opts.num === true ? "num" : "", opts.best === true ? "best" : ""].filter((c) => c !== "").join(" ");
	const inner = opts.best === true ? `<strong>${esc(text)}</strong>` : esc(text);
	return `<td${cls !== "" ? ` class="${cls}"` : ""}>${inner}</td>`;
}

function htmlTable(id: string, header: readonly string[], body: readonly string[][]): string {
	return [
		`<table id="${id}">`,
		`<thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>`,
		`<tbody>${body.map((cells) => `<tr>${cells.join("")}</tr>`).join("\n")}</tbody>`,
		"</table>",
	].join("\n");
}

function accText(r: ReportRow, c: Column): string {
	const a = accuracyOf(r, c);
	if (a === undefined) return "–";
	return a.seeds > 1 ? `${a.mean.toFixed(1)} ± ${a.std.toFixed(1)}` : a.mean.toFixed(1);
}

function scoreTables(rows: ReportRow[]): string {
	const cols = taskColumns(rows);
	const header = ["Model", ...cols.map((c) => c.label)];
	const bestAcc = bestRows(rows, cols, (r, c) => accuracyOf(r, c)?.mean, true);
	const bestEce = bestRows(rows, cols, eceOf, false);
	const acc = rows.map((r, i) => [
		cell(r.label),
		...cols.map((c, j) => cell(accText(r, c), { num: true, best: bestAcc[j]?.has(i) === true })),
	]);
	const ece = rows.map((r, i) => [
		cell(r.label),
		...cols.map((c, j) => cell(eceOf(r, c)?.toFixed(1) ?? "–", { num: true, best: bestEce[j]?.has(i) === true })),
	]);
	return [
		"<h2>Accuracy (%)</h2>",
		"<p class=note>Mean ± standard deviation over seeds; best per column in bold (the paper's Table 2 layout).</p>",
		htmlTable("accuracy", header, acc),
		`<h2>Calibration: ECE (%), ${ECE_BINS} bins</h2>`,
		"<p class=note>Lower is better; best per column in bold. The reliability diagrams below show the bins.</p>",
		htmlTable("ece", header, ece),
	].join("\n");
}

function trialsTable(data: ReportData): string {
	const trials = data.rows.filter((r) => r.kind === "trial");
	if (trials.length === 0) return "";
	const short = shortParamNames(data.swept);
	const cols = taskColumns(trials);
	const best = Math.max(...trials.map((r) => r.objective ?? -Infinity));
	const body = trials.map((r, i) => [
		cell(String(i + 1), { num: true }),
		...data.swept.map((p) => cell(r.params !== undefined && p in r.params ? JSON.stringify(r.params[p]) : "–", { num: true })),
		...cols.map((c) => cell(r.status === "done" ? (accuracyOf(r, c)?.mean.toFixed(1) ?? "–") : "–", { num: true })),
		cell(r.objective !== undefined ? r.objective.toFixed(2) : "–", { num: true, best: r.objective === best }),
		cell(r.seconds !== undefined ? r.seconds.toFixed(1) : "–", { num: true }),
		cell(r.status ?? "done"),
	]);
	const header = [
		"#",
		...data.swept.map((p) => short.get(p) ?? p),
		...cols.map((c) => c.label),
		data.objective ?? "objective",
		"seconds",
		"status",
	];
	return [`<h2>Trials</h2>`, htmlTable("trials", header, body)].join("\n");
}

function quantizedTable(q: QuantizedComparison, index: number): string {
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
		const delta = i === 0 || mean === undefined || ref === undefined ? "–" : `${mean - ref >= 0 ? "+" : ""}${(mean - ref).toFixed(1)}`;
		return [
			cell(r.label),
			...cols.map((c) => cell(accText(r, c), { num: true })),
			cell(delta, { num: true }),
			cell(v?.bytes !== undefined ? `${(v.bytes / 1e9).toFixed(2)} GB` : "–", { num: true }),
			cell(v?.tokensPerSecond !== undefined ? v.tokensPerSecond.toFixed(1) : "–", { num: true }),
		];
	});
	return [
		`<h2>Quantized variants: ${esc(q.model)}</h2>`,
		htmlTable(`quantized-${index}`, ["Variant", ...cols.map((c) => c.label), `Δ ${avg.label}`, "Size", "Tokens/s"], body),
	].join("\n");
}

function chartSection(title: string, charts: Array<ChartSpec & { svg: string }>): string {
	if (charts.length === 0) return "";
	const figures = charts.map(
		(c) => `<figure class="chart" id="${esc(c.id)}" data-kind="${c.kind}">\n${c.svg}\n<figcaption>${esc(c.title)}</figcaption>\n</figure>`,
	);
	return [`<h2>${esc(title)}</h2>`, `<div class="charts">`, ...figures, "</div>"].join("\n");
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; } th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.best strong { color: #0b4f9c; }
.note, .meta { color: #555; } .charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure.chart { margin: 0; padding: .5rem; border: 1px solid #eee; } figcaption { font-size: 12px; color: #555; }
ul.failed li { color: #9c1b0b; }
`;

/**
 * One self-contained HTML page: the accuracy and ECE tables (Table 2 layout, best in bold), the trials
 * table, bar charts per task, parameter-response plots, reliability diagrams and quantized variants.
 * Charts are inline SVG; the page loads nothing (its Content-Security-Policy forbids it).
 */
export async function renderReportHtml(data: ReportData, opts: { generatedAt?: Date } = {}): Promise<string> {
	const rows = data.rows.filter((r) => r.status === undefined || r.status === "done");
	const charts = await renderCharts(chartSpecs(data));
	const settings = [...new Set(data.rows.map((r) => r.settings).filter((s): s is string => s !== undefined))];
	const failed = data.rows.filter((r) => r.status === "failed");
	const pending = data.rows.filter((r) => r.status === "queued" || r.status === "running").length;
	const when = (opts.generatedAt ?? new Date()).toISOString();
	return [
		"<!doctype html>",
		'<html lang="en">',
		"<head>",
		'<meta charset="utf-8">',
		`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
		'<meta name="viewport" content="width=device-width, initial-scale=1">',
		`<title>${esc(data.title)}</title>`,
		`<style>${STYLE}</style>`,
		"</head>",
		"<body>",
		`<h1>${esc(data.title)}</h1>`,
		`<p class="meta">Generated by lm-merge on ${esc(when)} from ${data.sources.map((s) => `<code>${esc(s)}</code>`).join(", ")}.` +
			`${settings.length > 0 ? ` Settings: ${esc(settings.join("; "))}.` : ""}` +
			`${data.objective !== undefined ? ` Trials ranked by <code>${esc(data.objective)}</code>.` : ""}` +
			`${pending > 0 ? ` ${pending} trial(s) still queued or running.` : ""}</p>`,
		rows.length > 0 ? scoreTables(rows) : "<p>No finished results yet.</p>",
		trialsTable(data),
		chartSection(
			"Accuracy per task",
			charts.filter((c) => c.kind === "bar"),
		),
		chartSection(
			"Parameter response",
			charts.filter((c) => c.kind === "response"),
		),
		chartSection(
			"Reliability diagrams",
			charts.filter((c) => c.kind === "reliability"),
		),
		...data.quantized.map(quantizedTable),
		failed.length > 0
			? `<h2>Failed trials</h2>\n` +
				`<ul class="failed">${failed.map((r) => `<li>${esc(r.label)}: ${esc(r.error ?? "failed")}</li>`).join("")}</ul>`
			: "",
		"</body>",
		"</html>",
		"",
	]
		.filter((s) => s !== "")
		.join("\n");
}
