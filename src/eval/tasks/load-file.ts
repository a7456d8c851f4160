import { basename } from "node:path";
import { EvaluationError } from "../../errors.js";
import type { McqaItem, TaskName } from "../types.js";
import { loadBioInstructQa } from "./bioinstructqa.js";
import { parseCsv } from "./csv.js";
import { loadMedMcqa } from "./medmcqa.js";
import { loadMedQa } from "./medqa.js";
import { loadMmluCsv, loadMmluJsonl } from "./mmlu.js";
import { loadPubMedQa } from "./pubmedqa.js";
import { isRecord, type LoadContext, parseRecords, type RawRecord, readDataFile } from "./records.js";
import { getTask, MMLU_TASKS, taskOfCorpus } from "./registry.js";

/** The data formats the loader recognises. */
type DataFormat = "bioinstructqa" | "medqa" | "medmcqa" | "pubmedqa" | "mmlu-csv" | "mmlu-jsonl";

/** Options shared by every loader. */
export interface LoadOptions {
	/** Skip malformed records (reported as warnings) instead of stopping at the first one. */
	skipBad?: boolean;
	/** MedMCQA `cop` base; detected from the data when absent. */
	copBase?: 0 | 1;
	/** BioInstructQA: read the `*_translated` fields. */
	translated?: boolean;
}

/** A parsed data file: its format, records, and the tasks it can hold. */
export interface DataFile {
	file: string;
	format: DataFormat;
	/** Raw records (CSV rows are parsed per task, so this is empty for mmlu-csv). */
	records: RawRecord[];
	text: string;
	/** Tasks present: BioInstructQA's corpus names, else [] (the caller says which task it is). */
	tasks: TaskName[];
}

/** Decides a file's format from its extension and the keys of its first record. */
function detectFormat(file: string, records: RawRecord[]): DataFormat {
	if (/\.csv$/i.test(file)) return "mmlu-csv";
	const first = records.find((r) => isRecord(r.value))?.value;
	if (isRecord(first)) {
		if ("corpus_name" in first && "correct_answer_letter" in first) return "bioinstructqa";
		if ("QUESTION" in first && "final_decision" in first) return "pubmedqa";
		if ("opa" in first && "cop" in first) return "medmcqa";
		if ("options" in first && ("answer_idx" in first || "answer" in first)) return "medqa";
		if ("choices" in first && "answer" in first) return "mmlu-jsonl";
	}
	throw new EvaluationError(
		"Data",
		`${file}: unrecognised data format (expected BioInstructQA, MedQA, MedMCQA or MMLU JSON/JSONL, PubMedQA ori_pqal.json, or MMLU CSV)`,
	);
}

/** Reads and parses a data file, detecting its format. */
export async function readDataSet(file: string, ctx: LoadContext): Promise<DataFile> {
	const text = await readDataFile(file);
	const records = /\.csv$/i.test(file) ? [] : parseRecords(text, ctx);
	const format = detectFormat(file, records);
	const tasks: TaskName[] = [];
	if (format === "bioinstructqa") {
		for (const r of records) {
			const spec = isRecord(r.value) && typeof r.value.corpus_name === "string" ? taskOfCorpus(r.value.corpus_name) : undefined;
			if (spec !== undefined && !tasks.includes(spec.name)) tasks.push(spec.name);
		}
	}
	return { file, format, records, text, tasks };
}

/** The items of `task` in a parsed file. */
export function itemsOf(data: DataFile, task: TaskName, ctx: LoadContext, opts: LoadOptions): McqaItem[] {
	const spec = getTask(task);
	switch (data.format) {
		case "bioinstructqa":
			return loadBioInstructQa(data.records, ctx, spec, opts);
		case "medqa":
			return loadMedQa(data.records, ctx, spec);
		case "medmcqa":
			return loadMedMcqa(data.records, ctx, spec, opts.copBase);
		case "pubmedqa":
			return loadPubMedQa(data.records, ctx, spec);
		case "mmlu-csv":
			return loadMmluCsv(parseCsv(data.text, ctx), ctx, spec);
		case "mmlu-jsonl":
			return loadMmluJsonl(data.records, ctx, spec);
	}
}

/**
 * The task a single-task file holds, guessed from its format and name: MedMCQA and PubMedQA formats
 * name their task; MedQA is `medqa` or `medqa_5options` by its first record's option count; MMLU
 * needs the subject in the file name (`anatomy_test.csv`, `mmlu_anatomy.jsonl`).
 */
export function guessTask(data: DataFile): TaskName | undefined {
	switch (data.format) {
		case "bioinstructqa":
			return data.tasks.length === 1 ? data.tasks[0] : undefined;
		case "medmcqa":
			return "medmcqa";
		case "pubmedqa":
			return "pubmedqa";
		case "medqa": {
			const first = data.records.find((r) => isRecord(r.value))?.value;
			const n = isRecord(first) && isRecord(first.options) ? Object.keys(first.options).length : 0;
			return n === 5 ? "medqa_5options" : "medqa";
		}
		default: {
			const name = basename(data.file).toLowerCase();
			return MMLU_TASKS.find((t) => name.includes(getTask(t).mmluSubject ?? "\0"));
		}
	}
}
