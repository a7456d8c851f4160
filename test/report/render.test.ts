import { describe, expect, test } from "vitest";
import { chartSpecs } from "../../src/report/charts.js";
import { accuracyOf, taskColumns } from "../../src/report/columns.js";
import { renderReportHtml } from "../../src/report/html.js";
import { renderReportMarkdown, renderTrialTable } from "../../src/report/markdown.js";
import { sweepReportData } from "./fixtures.js";

describe("columns", () => {
	test("task columns in the paper's order plus Avg; Avg is the per-seed mean, then mean ± std over seeds", () => {
		const data = sweepReportData();
		const cols = taskColumns(data.rows);
		expect(cols.map((c) => c.label)).toEqual(["MedQA", "PubMedQA", "Avg"]);
		// t=0.3: seed 0 (50+40)/2 = 45, seed 1 (60+40)/2 = 50 → 47.5 ± 2.5
		expect(accuracyOf(data.rows[0]!, cols[2]!)).toEqual({ mean: 47.5, std: 2.5, seeds: 2 });
		expect(accuracyOf(data.rows[3]!, cols[0]!)).toBeUndefined();
	});
});

describe("renderReportMarkdown", () => {
	const md = renderReportMarkdown(sweepReportData());

	test("Table 2 layout with the best cell of each column in bold", () => {
		expect(md).toContain("| Model | MedQA | PubMedQA | Avg |");
		expect(md).toContain("| t=0.3 | **55.0 ± 5.0** | 40.0 ± 0.0 | 47.5 ± 2.5 |");
		expect(md).toContain("| t=0.7 | 30.0 ± 0.0 | **70.0 ± 0.0** | **50.0 ± 0.0** |");
	});

	test("ECE table (lowest in bold), trials table, quantized variants, failed trials", () => {
		expect(md).toContain("## Calibration: ECE (%), 5 bins");
		expect(md).toContain("| t=0.3 | **12.0** | **8.0** | **10.0** |");
		expect(md).toContain("## Trials");
		expect(md).toContain("## Quantized variants: bio-slerp");
		expect(md).toContain("| q8_0 | 49.0 ± 0.0 | -1.0 | 7.70 GB | 21.5 |");
		expect(md).toContain("- t=0.9: plan: shapes differ");
		expect(md).not.toMatch(/\| t=0\.9 \| \d/);
	});

	test("the trials table: varied values, per-task accuracy, objective (best bold), seconds, status", () => {
		const table = renderTrialTable(sweepReportData());
		expect(table.split("\n")[0]).toBe("| # | t | MedQA | PubMedQA | Avg | mean_accuracy | s | status |");
		expect(table).toContain("| 3 | 0.7 | 30.0 | 70.0 | 50.0 | **50.00** | 12.5 | done |");
		expect(table).toContain("| 4 | 0.9 | – | – | – | – | – | failed |");
	});
});

describe("charts and the HTML page", () => {
	test("bar charts per task column, a response plot per numeric swept value, reliability diagrams best first", () => {
		const charts = chartSpecs(sweepReportData());
		expect(charts.map((c) => c.id)).toEqual([
			"bar-medqa",
			"bar-pubmedqa",
			"bar-avg",
			"response-t",
			"reliability-0",
			"reliability-1",
			"reliability-2",
		]);
		expect(charts.find((c) => c.id === "reliability-0")?.title).toContain("t=0.7");
	});

	test("one self-contained page: tables, inline SVG charts, nothing loaded from anywhere", async () => {
		const html = await renderReportHtml(sweepReportData(), { generatedAt: new Date("2026-01-01T00:00:00Z") });
		expect(html).toContain("default-src 'none'");
		expect(html.match(/<figure class="chart"/g)).toHaveLength(7);
		expect(html.match(/<svg /g)?.length).toBeGreaterThanOrEqual(7);
		expect(html).toContain('<td class="num best"><strong>55.0 ± 5.0</strong></td>');
		expect(html).not.toMatch(/<script|<link|<img|<iframe|url\(/i);
		// The only URLs are SVG/XLink namespace names, which are identifiers, never fetched.
		const urls = [...html.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]);
		expect(new Set(urls)).toEqual(new Set(["http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"]));
		expect(html).toContain("Quantized variants: bio-slerp");
		expect(html).toContain("plan: shapes differ");
	});

	test("labels and errors are escaped", async () => {
		const data = sweepReportData();
		data.rows[3]!.error = "<b>oops</b> & more";
		const html = await renderReportHtml(data);
		expect(html).toContain("&lt;b&gt;oops&lt;/b&gt; &amp; more");
	});
});
