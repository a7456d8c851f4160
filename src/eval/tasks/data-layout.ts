import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { TaskSpec } from "./registry.js";

/** Split names and the file names accepted for them. */
const SPLIT_ALIASES = {
	test: ["test"],
	dev: ["dev", "validation", "val"],
	train: ["train"],
} as const;

type SplitName = keyof typeof SPLIT_ALIASES;

/** File extensions tried for a split file, in this order. */
const EXTENSIONS = ["jsonl", "json", "csv"] as const;

/** BioInstructQA files looked for at the top of a data folder (test, then train for template shots). */
export const BIOINSTRUCTQA_FILES = {
	test: ["overall_test+prompt.json", "bioinstructqa.json", "bioinstructqa.jsonl", "bioinstructqa/test.json", "bioinstructqa/test.jsonl"],
	train: ["overall_train+prompt.json", "bioinstructqa/train.json", "bioinstructqa/train.jsonl"],
} as const;

/** PubMedQA's labelled file and the list of its 500 test PMIDs (pubmedqa/pubmedqa repository, `data/`). */
const PUBMEDQA_ALL = "ori_pqal.json";
export const PUBMEDQA_TEST_IDS = "test_ground_truth.json";

export async function isFile(path: string): Promise<boolean> {
	try {
		return (await stat(path)).isFile();
	} catch {
		return false;
	}
}

export async function isDirectory(path: string): Promise<boolean> {
	try {
		return (await stat(path)).isDirectory();
	} catch {
		return false;
	}
}

/**
 * The paths a task's split may live at inside a data folder, in priority order:
 * `<task>/<split>.<ext>`, `<task>_<split>.<ext>`, the MMLU release layout
 * (`<split>/<subject>_<split>.csv`, `mmlu/<split>/<subject>_<split>.csv`) and the MedQA release
 * layout (`questions/US/4_options/phrases_no_exclude_<split>.jsonl`, `questions/US/<split>.jsonl`).
 */
export function splitCandidates(dir: string, spec: TaskSpec, split: SplitName): string[] {
	const out: string[] = [];
	for (const name of SPLIT_ALIASES[split]) {
		for (const ext of EXTENSIONS) {
			out.push(join(dir, spec.name, `${name}.${ext}`), join(dir, `${spec.name}_${name}.${ext}`));
		}
		if (spec.mmluSubject !== undefined) {
			const file = `${spec.mmluSubject}_${name}.csv`;
			out.push(join(dir, name, file), join(dir, "mmlu", name, file));
		}
		if (spec.name === "medqa") out.push(join(dir, "questions", "US", "4_options", `phrases_no_exclude_${name}.jsonl`));
		if (spec.name === "medqa_5options") out.push(join(dir, "questions", "US", `${name}.jsonl`));
	}
	return out;
}

/** The first candidate that is a file, or undefined. */
export async function firstFile(paths: readonly string[]): Promise<string | undefined> {
	for (const p of paths) {
		if (await isFile(p)) return p;
	}
	return undefined;
}

/** PubMedQA's `ori_pqal.json` in a data folder (`pubmedqa/` or top level) and its test-id list beside it. */
export async function findPubMedQaRelease(dir: string): Promise<{ all: string; testIds: string | undefined } | undefined> {
	const all = await firstFile([join(dir, "pubmedqa", PUBMEDQA_ALL), join(dir, PUBMEDQA_ALL)]);
	if (all === undefined) return undefined;
	const testIds = join(dirname(all), PUBMEDQA_TEST_IDS);
	return { all, testIds: (await isFile(testIds)) ? testIds : undefined };
}
