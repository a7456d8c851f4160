import { getTask } from "../eval/tasks/registry.js";
import type { TaskName } from "../eval/types.js";
import { accuracyOf, eceOf, shortParamNames, taskColumns } from "./columns.js";
import type { ReportData, ReportRow } from "./types.js";

/**
 * Vega-Lite specifications of the report's charts, rendered to static SVG in Node by vega (see
 * renderCharts): no script and no network are needed to view them.
 */
export interface ChartSpec {
	/** Stable id, e.g. "bar-medqa", "response-t", "reliability-3". */
	id: string;
	kind: "bar" | "response" | "reliability";
	title: string;
	spec: Record<string, unknown>;
}

/**
 * Reliability diagrams are drawn for at most this many rows (the best by objective first): a 100-trial sweep needs its best few, not 100
 * plots.
 */
const MAX_RELIABILITY_CHARTS = 12;

const WIDTH = 360;
const HEIGHT = 220;
const BASE = {
	$schema: "https://vega.github.io/schema/vega-lite/v6.json",
	background: "white",
	config: { font: "sans-serif", view: { stroke: null } },
};

function scoredRows(data: ReportData): ReportRow[] {
	return data.rows.filter((r) => r.status === undefined || r.status === "done");
}

/** One bar chart per task column: accuracy per row, with ± std over seeds. */
function barCharts(rows: ReportRow[]): ChartSpec[] {
	return taskColumns(rows).map((col) => {
		const values = rows.flatMap((r) => {
			const a = accuracyOf(r, col);
			return a === undefined ? [] : [{ row: r.label, acc: a.mean, lo: a.mean - a.std, hi: a.mean + a.std }];
		});
		const x = { field: "row", type: "nominal", sort: null, title: null, axis: { labelAngle: -35, labelLimit: 140 } };
		return {
			id: `bar-${col.tasks.length === 1 ? col.tasks[0] : col.label.toLowerCase()}`,
			kind: "bar",
			title: `${col.label}: accuracy (%)`,
			spec: {
				...BASE,
				width: { step: Math.max(14, Math.min(48, Math.floor(WIDTH / Math.max(1, values.length)))) },
				height: HEIGHT,
				title: `${col.label}: accuracy (%)`,
				data: { values },
				layer: [
					{
						mark: { type: "bar", color: "#4c78a8" },
						encoding: {
							x,
							y: { field: "acc", type: "quantitative", title: "accuracy (%)", scale: { domain: [0, 100] } },
							tooltip: [{ field: "row" }, { field: "acc", format: ".1f" }],
						},
					},
					{ mark: { type: "rule", color: "#333" }, encoding: { x, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } } },
				],
			},
		};
	});
}

/** Accuracy against each numeric swept value, one line per task plus the average (mean over the other swept values). */
function responseCharts(data: ReportData, rows: ReportRow[]): ChartSpec[] {
	const trials = rows.filter((r) => r.kind === "trial" && r.params !== undefined);
	const short = shortParamNames(data.swept);
	const cols = taskColumns(trials).filter((c) => c.tasks.length === 1 || c.label === "Avg");
	return data.swept.flatMap((param) => {
		const values = trials.flatMap((r) => {
			const x = r.params?.[param];
			if (typeof x !== "number") return [];
			return cols.flatMap((c) => {
				const a = accuracyOf(r, c);
				return a === undefined ? [] : [{ x, task: c.tasks.length === 1 ? getTask(c.tasks[0] as TaskName).label : c.label, acc: a.mean }];
			});
		});
		if (new Set(values.map((v) => v.x)).size < 2) return [];
		const name = short.get(param) ?? param;
		return [
			{
				id: `response-${name.replace(/[^A-Za-z0-9_-]+/g, "_")}`,
				kind: "response" as const,
				title: `Accuracy vs ${name}`,
				spec: {
					...BASE,
					width: WIDTH,
					height: HEIGHT,
					title: `Accuracy vs ${name}`,
					data: { values },
					mark: { type: "line", point: true },
					encoding: {
						x: { field: "x", type: "quantitative", title: param, scale: { zero: false } },
						y: { aggregate: "mean", field: "acc", type: "quantitative", title: "accuracy (%)", axis: { format: ".1f" } },
						color: { field: "task", type: "nominal", title: "task" },
					},
				},
			},
		];
	});
}

/** Reliability diagrams: accuracy against mean confidence per bin, one line per task, the diagonal for perfect calibration. */
function reliabilityCharts(rows: ReportRow[]): ChartSpec[] {
	const withBins = rows.filter((r) => Object.values(r.tasks).some((s) => (s?.reliability.length ?? 0) > 0));
	const ranked = withBins.some((r) => r.objective !== undefined)
		? [...withBins].sort((a, b) => (b.objective ?? -Infinity) - (a.objective ?? -Infinity))
		: withBins;
	return ranked.slice(0, MAX_RELIABILITY_CHARTS).map((r, i) => {
		const values = (Object.entries(r.tasks) as [TaskName, NonNullable<ReportRow["tasks"][TaskName]>][]).flatMap(([task, s]) =>
			s.reliability
				.filter((b) => b.count > 0)
				.map((b) => ({ task: getTask(task).label, confidence: b.confidence, accuracy: b.accuracy, count: b.count })),
		);
		const avg = taskColumns([r]).at(-1);
		const ece = avg !== undefined ? eceOf(r, avg) : undefined;
		const title = `${r.label}: reliability${ece !== undefined ? ` (ECE ${ece.toFixed(1)} %)` : ""}`;
		return {
			id: `reliability-${i}`,
			kind: "reliability" as const,
			title,
			spec: {
				...BASE,
				width: HEIGHT,
				height: HEIGHT,
				title,
				layer: [
					{
						data: {
							values: [
								{ a: 0, b: 0 },
								{ a: 1, b: 1 },
							],
						},
						mark: { type: "line", color: "#999", strokeDash: [4, 4] },
						encoding: { x: { field: "a", type: "quantitative" }, y: { field: "b", type: "quantitative" } },
					},
					{
						data: { values },
						mark: { type: "line", point: { filled: true } },
						encoding: {
							x: { field: "confidence", type: "quantitative", title: "confidence", scale: { domain: [0, 1] } },
							y: { field: "accuracy", type: "quantitative", title: "accuracy", scale: { domain: [0, 1] } },
							color: { field: "task", type: "nominal", title: "task" },
							size: { field: "count", type: "quantitative", title: "prompts", legend: null, scale: { range: [40, 220] } },
						},
					},
				],
			},
		};
	});
}

/** Every chart of the report: bars per task, parameter responses for swept values, reliability diagrams. */
export function chartSpecs(data: ReportData): ChartSpec[] {
	const rows = scoredRows(data);
	return [...barCharts(rows), ...responseCharts(data, rows), ...reliabilityCharts(rows)];
}

/** Renders chart specs to standalone SVG text with vega (loaded on first use: it is large). */
export async function renderCharts(charts: readonly ChartSpec[]): Promise<Array<ChartSpec & { svg: string }>> {
	const vega = await import("vega");
	const { compile } = await import("vega-lite");
	const out: Array<ChartSpec & { svg: string }> = [];
	for (const c of charts) {
		const view = new vega.View(vega.parse(compile(c.spec as never).spec), { renderer: "none" });
		try {
			out.push({ ...c, svg: await view.toSVG() });
		} finally {
			view.finalize();
		}
	}
	return out;
}
