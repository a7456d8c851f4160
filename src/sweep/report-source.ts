import { open, readFile } from "node:fs/promises";
import path from "node:path";
import { ReportError } from "../errors.js";
import { shortParamNames } from "../report/columns.js";
import { quantizedComparisons, rowsOfReport, settingsOf } from "../report/scores.js";
import type { ReportData, ReportInput, ReportRow, TaskScores } from "../report/types.js";
import { ResultsStore, type StoredTrial } from "./store.js";

/** The store a sweep file uses by default: `SWEEP.sqlite` beside `SWEEP.yml`. */
export function defaultStorePath(sweepFile: string): string {
	return path.join(path.dirname(sweepFile), `${path.basename(sweepFile).replace(/\.ya?ml$/i, "")}.sqlite`);
}

const SQLITE_MAGIC = "SQLite format 3\0";

async function isSqlite(file: string): Promise<boolean> {
	const fh = await open(file, "r");
	try {
		const buf = Buffer.alloc(SQLITE_MAGIC.length);
		const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
		return bytesRead === buf.length && buf.toString("latin1") === SQLITE_MAGIC;
	} finally {
		await fh.close();
	}
}

function formatValue(v: unknown): string {
	return typeof v === "string" ? v : JSON.stringify(v);
}

function rowOfTrial(t: StoredTrial, names: Map<string, string>): ReportRow {
	const isEval = t.sweep === null;
	const label = isEval
		? path.basename(String(t.params.model ?? t.model ?? t.key.slice(0, 12)))
		: Object.entries(t.params)
				.map(([k, v]) => `${names.get(k) ?? k}=${formatValue(v)}`)
				.join(", ") || t.key.slice(0, 12);
	const row: ReportRow = { label, kind: isEval ? "model" : "trial", tasks: (t.scores ?? {}) as TaskScores, status: t.status };
	if (!isEval) {
		row.params = t.params;
		row.sweep = t.sweep as string;
	}
	if (t.objective !== null) row.objective = t.objective;
	if (t.seconds !== null) row.seconds = t.seconds;
	if (t.error !== null) row.error = t.error;
	if (t.report !== null) row.settings = settingsOf(t.report);
	return row;
}

/** Reads evaluation reports (one object or an array, as `merge eval --json` writes them). */
async function readReports(file: string): Promise<ReportInput[]> {
	let data: unknown;
	try {
		data = JSON.parse(await readFile(file, "utf8"));
	} catch (err) {
		throw new ReportError("Input", `neither a results store nor a JSON evaluation report (${(err as Error).message.split("\n")[0]})`, file);
	}
	const list = Array.isArray(data) ? data : [data];
	for (const [i, r] of list.entries()) {
		const o = r as Partial<ReportInput> | null;
		if (o === null || typeof o !== "object" || typeof o.tasks !== "object" || !Array.isArray(o.models) || !Array.isArray(o.seeds)) {
			throw new ReportError(
				"Input",
				`${Array.isArray(data) ? `entry ${i}: ` : ""}not an evaluation report (expected models, seeds and tasks, as merge eval --json writes)`,
				file,
			);
		}
		if (!Array.isArray(o.items)) (o as ReportInput).items = [];
	}
	return list as ReportInput[];
}

/**
 * Gathers what `merge report` shows from results stores (every trial and evaluation row, or one sweep's)
 * and JSON evaluation reports, in the order given.
 */
export async function readReportData(inputs: readonly string[], opts: { sweep?: string; title?: string } = {}): Promise<ReportData> {
	if (inputs.length === 0) throw new ReportError("Empty", "name at least one results store or evaluation report");
	const rows: ReportRow[] = [];
	const reports: ReportInput[] = [];
	const swept: string[] = [];
	let objective: string | undefined;
	const sweeps = new Set<string>();
	for (const file of inputs) {
		try {
			if (!(await isSqlite(file))) {
				const list = await readReports(file);
				reports.push(...list);
				rows.push(...list.flatMap(rowsOfReport));
				continue;
			}
		} catch (err) {
			if (err instanceof ReportError) throw err;
			throw new ReportError("Input", `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file);
		}
		const store = ResultsStore.open(file, { readonly: true });
		try {
			const trials = store.list(opts.sweep !== undefined ? { sweep: opts.sweep } : {});
			for (const t of trials) for (const k of Object.keys(t.sweep !== null ? t.params : {})) if (!swept.includes(k)) swept.push(k);
			const names = shortParamNames(swept);
			for (const t of trials) {
				rows.push(rowOfTrial(t, names));
				if (t.sweep !== null) sweeps.add(t.sweep);
				if (t.sweep !== null && objective === undefined && t.objectiveName !== null) objective = t.objectiveName;
			}
		} finally {
			store.close();
		}
	}
	if (rows.length === 0)
		throw new ReportError(
			"Empty",
			`nothing to report: ${opts.sweep !== undefined ? `no trial of sweep ${opts.sweep} in` : "no rows in"} ${inputs.join(", ")}`,
		);
	const title = opts.title ?? (sweeps.size > 0 ? `Sweep ${[...sweeps].join(", ")}` : "Evaluation report");
	return {
		title,
		rows,
		swept,
		quantized: quantizedComparisons(reports),
		sources: [...inputs],
		...(objective !== undefined ? { objective } : {}),
	};
}
