import { modelName } from "./model-name.js";
import { ECE_BINS, meanStd } from "./score.js";
import { getTask, MMLU_TASKS, TASK_NAMES } from "./tasks/registry.js";
import type { EvalReport, TaskName, TaskReport } from "./types.js";

/**
 * Tables for people: the paper's Table 2 layout in Markdown, and a one-line-per-task text summary. Only here
 * are figures rounded; the JSON report keeps full precision.
 */

/** One row of the results table: a label and its task reports. */
interface TableRow {
	label: string;
	tasks: Partial<Record<TaskName, TaskReport>>;
}

/** A report's rows: one per ensemble member then "Ensemble", or one named after the model. */
function rowsOf(report: EvalReport): TableRow[] {
	const names = report.models.map((m, i) => report.model_names?.[i] ?? modelName(m));
	// GGUF variants of one model differ only by their weight format: say which one a row is.
	const suffix = report.backend === "llama" ? ` (${report.quant})` : "";
	if (report.ensemble) {
		const members = (report.members ?? []).map((m, i) => ({ label: (m.name ?? names[i] ?? modelName(m.model)) + suffix, tasks: m.tasks }));
		return [...members, { label: "Ensemble", tasks: report.tasks }];
	}
	return [{ label: names.join(" + ") + suffix, tasks: report.tasks }];
}

/** A table column: a task, or a mean over several (MMLU, Avg), with how to read a value out of a TaskReport. */
interface Column {
	label: string;
	tasks: TaskName[];
}

function columnsFor(rows: TableRow[]): Column[] {
	const present = TASK_NAMES.filter((t) => rows.some((r) => r.tasks[t] !== undefined));
	const cols: Column[] = present.map((t) => ({ label: getTask(t).label, tasks: [t] }));
	if (MMLU_TASKS.every((t) => present.includes(t))) {
		cols.splice(MMLU_TASKS.length, 0, { label: "MMLU", tasks: [...MMLU_TASKS] });
	}
	if (present.length > 1) cols.push({ label: "Avg", tasks: present });
	return cols;
}

/** Mean ± std of a column for one row: per seed, the unweighted mean over the column's tasks. */
function accCell(row: TableRow, col: Column): string {
	const reports = col.tasks.map((t) => row.tasks[t]);
	if (reports.some((r) => r === undefined)) return "–";
	const seeds = (reports[0] as TaskReport).acc.per_seed.length;
	const perSeed = Array.from({ length: seeds }, (_, s) => meanStd(reports.map((r) => r?.acc.per_seed[s] ?? 0)).mean);
	const { mean, std } = meanStd(perSeed);
	return seeds > 1 ? `${mean.toFixed(1)} ± ${std.toFixed(1)}` : mean.toFixed(1);
}

function eceCell(row: TableRow, col: Column): string {
	const reports = col.tasks.map((t) => row.tasks[t]);
	if (reports.some((r) => r === undefined)) return "–";
	return meanStd(reports.map((r) => r?.ece ?? 0)).mean.toFixed(1);
}

function markdownTable(header: string[], body: string[][]): string {
	const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
	return [line(header), line(header.map(() => "---")), ...body.map(line)].join("\n");
}

/**
 * Markdown tables like the paper's Table 2: accuracy (`acc`, mean ± population std over seeds, in
 * percent) per task, an "MMLU" column (mean of the six subjects, when all six ran) and "Avg" (mean
 * over the task columns), one row per model (and "Ensemble"); then the same layout for ECE.
 */
export function renderMarkdown(reports: EvalReport | readonly EvalReport[]): string {
	const list = Array.isArray(reports) ? (reports as readonly EvalReport[]) : [reports as EvalReport];
	const rows = list.flatMap(rowsOf);
	const cols = columnsFor(rows);
	const header = ["Model", ...cols.map((c) => c.label)];
	const first = list[0];
	const partial = list.filter((r) => r.partial === true).map((r) => `${r.progress.scored}/${r.progress.total}`);
	const title =
		first === undefined
			? ""
			: `Accuracy (%), ${first.mode} mode, ${first.shots}-shot, seeds ${first.seeds.join(",")}` +
				(partial.length > 0 ? ` (PARTIAL: interrupted after ${partial.join(", ")} prompts)` : "");
	return [
		`**${title}**`,
		"",
		markdownTable(
			header,
			rows.map((r) => [r.label, ...cols.map((c) => accCell(r, c))]),
		),
		"",
		`**Calibration: ECE (%), ${ECE_BINS} bins**`,
		"",
		markdownTable(
			header,
			rows.map((r) => [r.label, ...cols.map((c) => eceCell(r, c))]),
		),
		"",
	].join("\n");
}

/** A plain-text summary for terminals: run settings, then one line per task. */
export function renderText(report: EvalReport): string {
	const lines = [
		...(report.partial === true ? [`PARTIAL REPORT: interrupted after ${report.progress.scored} of ${report.progress.total} prompts`] : []),
		`mode ${report.mode}, ${report.shots}-shot, seeds [${report.seeds.join(", ")}], ` +
			`BOS ${report.bos ? "on" : "off"}${report.ensemble ? ", ensemble" : ""}`,
		`models: ${report.models.map((m, i) => report.model_names?.[i] ?? modelName(m)).join(", ")}` +
			(report.backend !== undefined ? ` (${report.backend}, ${report.device}, ${report.quant})` : ""),
	];
	const rows = TASK_NAMES.filter((t) => report.tasks[t] !== undefined).map((t) => {
		const r = report.tasks[t] as TaskReport;
		const acc = `${r.acc.mean.toFixed(1)} ± ${r.acc.std.toFixed(1)}`;
		const letters = `${r.acc_letters.mean.toFixed(1)} ± ${r.acc_letters.std.toFixed(1)}`;
		const norm = r.acc_norm !== undefined ? `  acc_norm ${r.acc_norm.mean.toFixed(1)}` : "";
		const nonLetter = `${(100 * r.non_letter_top1).toFixed(1)}%`;
		return (
			`${t.padEnd(28)} n=${String(r.n).padEnd(5)} acc ${acc.padEnd(12)} letters ${letters.padEnd(12)} ` +
			`non-letter ${nonLetter}  ECE ${r.ece.toFixed(1)}  shots ${r.shot_source}${norm}`
		);
	});
	const warnings = report.warnings.map((w) => `warning: ${w}`);
	return `${[...lines, ...rows, ...warnings].join("\n")}\n`;
}
