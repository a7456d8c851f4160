import { meanStd } from "../eval/score.js";
import { getTask, MMLU_TASKS, TASK_NAMES } from "../eval/tasks/registry.js";
import type { TaskName } from "../eval/types.js";
import type { ReportRow, TaskScore } from "./types.js";

/** A table column: one task, or the unweighted mean of several (MMLU, Avg), as the paper's Table 2 has them. */
export interface Column {
	label: string;
	tasks: TaskName[];
}

/** The task columns rows have, in the paper's order, with "MMLU" (when all six subjects ran) and "Avg" (several tasks). */
export function taskColumns(rows: readonly ReportRow[]): Column[] {
	const present = TASK_NAMES.filter((t) => rows.some((r) => r.tasks[t] !== undefined));
	const cols: Column[] = present.map((t) => ({ label: getTask(t).label, tasks: [t] }));
	if (MMLU_TASKS.every((t) => present.includes(t))) cols.splice(MMLU_TASKS.length, 0, { label: "MMLU", tasks: [...MMLU_TASKS] });
	if (present.length > 1) cols.push({ label: "Avg", tasks: present });
	return cols;
}

/** Mean and std over seeds of the column's per-seed mean accuracy; undefined when the row lacks one of its tasks. */
export function accuracyOf(row: ReportRow, col: Column): { mean: number; std: number; seeds: number } | undefined {
	const scores = col.tasks.map((t) => row.tasks[t]);
	if (scores.some((s) => s === undefined)) return undefined;
	const list = scores as TaskScore[];
	const seeds = Math.min(...list.map((s) => s.acc_per_seed.length));
	if (seeds === 0 || !Number.isFinite(seeds)) {
		const { mean } = meanStd(list.map((s) => s.acc));
		return { mean, std: 0, seeds: 0 };
	}
	const perSeed = Array.from({ length: seeds }, (_, i) => meanStd(list.map((s) => s.acc_per_seed[i] ?? 0)).mean);
	return { ...meanStd(perSeed), seeds };
}

/** Mean ECE over the column's tasks; undefined when the row lacks one of them. */
export function eceOf(row: ReportRow, col: Column): number | undefined {
	const scores = col.tasks.map((t) => row.tasks[t]);
	if (scores.some((s) => s === undefined)) return undefined;
	return meanStd((scores as TaskScore[]).map((s) => s.ece)).mean;
}

/** Per column, the row indices holding its best value (ties all count), for bold cells. */
export function bestRows(
	rows: readonly ReportRow[],
	cols: readonly Column[],
	value: (r: ReportRow, c: Column) => number | undefined,
	higher: boolean,
): Set<number>[] {
	return cols.map((c) => {
		const vals = rows.map((r) => value(r, c));
		const finite = vals.filter((v): v is number => v !== undefined && Number.isFinite(v));
		if (finite.length < 2) return new Set<number>();
		const best = higher ? Math.max(...finite) : Math.min(...finite);
		// Compare at the shown precision (one decimal) so equal-looking cells are bold together.
		return new Set(vals.flatMap((v, i) => (v !== undefined && v.toFixed(1) === best.toFixed(1) ? [i] : [])));
	});
}

/** Short column names for swept recipe paths: the last key (`t`, `density`) unless two paths share it. */
export function shortParamNames(paths: readonly string[]): Map<string, string> {
	const last = (p: string) => /([A-Za-z_][A-Za-z0-9_-]*)(?:\[\d+\])*$/.exec(p)?.[1] ?? p;
	const counts = new Map<string, number>();
	for (const p of paths) counts.set(last(p), (counts.get(last(p)) ?? 0) + 1);
	return new Map(paths.map((p) => [p, counts.get(last(p)) === 1 ? last(p) : p]));
}
