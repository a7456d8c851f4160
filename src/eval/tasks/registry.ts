import { EvaluationError } from "../../errors.js";
import type { TaskName } from "../types.js";

/** The lm-evaluation-harness prompt family a task is scored with in harness mode. */
type HarnessStyle = "mmlu" | "medqa" | "medmcqa" | "pubmedqa";

/** Everything the evaluator knows about one task. */
export interface TaskSpec {
	name: TaskName;
	/** Column header in the Markdown table (the paper's Table 2 wording). */
	label: string;
	/** Number of options every item must have. */
	optionCount: number;
	/** The split that is scored (MedMCQA: its dev set, as in the paper). */
	evalSplit: "test" | "dev";
	/** The split few-shot examples are drawn from when `--data` is a folder (MMLU: dev). */
	shotSplit: "train" | "dev";
	/** BioInstructQA `corpus_name`. */
	corpusName: string;
	harness: HarnessStyle;
	/** MMLU subject (cais/mmlu config name), for the harness description and file names. */
	mmluSubject?: string;
}

function mmlu(subject: string, label: string): TaskSpec {
	return {
		name: `mmlu_${subject}` as TaskName,
		label,
		optionCount: 4,
		evalSplit: "test",
		shotSplit: "dev",
		corpusName: `MMLU_${subject}`,
		harness: "mmlu",
		mmluSubject: subject,
	};
}

/** The ten tasks, in the column order of the paper's Table 2. */
const TASKS: readonly TaskSpec[] = [
	mmlu("clinical_knowledge", "Clinical KG"),
	mmlu("medical_genetics", "Medical Genetics"),
	mmlu("anatomy", "Anatomy"),
	mmlu("professional_medicine", "Pro Medicine"),
	mmlu("college_biology", "College Biology"),
	mmlu("college_medicine", "College Medicine"),
	{ name: "medqa", label: "MedQA", optionCount: 4, evalSplit: "test", shotSplit: "train", corpusName: "MedQA", harness: "medqa" },
	{
		name: "medqa_5options",
		label: "MedQA 5 opts",
		optionCount: 5,
		evalSplit: "test",
		shotSplit: "train",
		corpusName: "MedQA-5_options",
		harness: "medqa",
	},
	{
		name: "pubmedqa",
		label: "PubMedQA",
		optionCount: 3,
		evalSplit: "test",
		shotSplit: "train",
		corpusName: "PubMedQA",
		harness: "pubmedqa",
	},
	{ name: "medmcqa", label: "MedMCQA", optionCount: 4, evalSplit: "dev", shotSplit: "train", corpusName: "MedMCQA", harness: "medmcqa" },
];

/** The six MMLU subjects whose mean is the "MMLU" column. */
export const MMLU_TASKS: readonly TaskName[] = TASKS.filter((t) => t.harness === "mmlu").map((t) => t.name);

/** Every task name, in table order. */
export const TASK_NAMES: readonly TaskName[] = TASKS.map((t) => t.name);

/** Type guard for user-supplied task names. */
function isTaskName(name: string): name is TaskName {
	return (TASK_NAMES as readonly string[]).includes(name);
}

/** The spec of a task; unknown names throw EvaluationError "Config" listing the valid ones. */
export function getTask(name: string): TaskSpec {
	const spec = TASKS.find((t) => t.name === name);
	if (spec === undefined) {
		throw new EvaluationError("Config", `unknown task "${name}"; known tasks: ${TASK_NAMES.join(", ")}`);
	}
	return spec;
}

/**
 * lm-evaluation-harness task names that differ from ours, and its group of the medical tasks: `--tasks`
 * accepts them so a harness command line works as is.
 */
export const TASK_ALIASES: Readonly<Record<string, readonly TaskName[]>> = {
	medqa_4options: ["medqa"],
	multimedqa: ["medqa", "medmcqa", "pubmedqa", ...MMLU_TASKS],
};

/**
 * Task names as users give them: comma-separated lists (`medqa,pubmedqa`), harness aliases and groups,
 * duplicates dropped, first mention first. Unknown names throw EvaluationError "Config" listing the valid ones.
 */
export function expandTaskNames(names: readonly string[]): TaskName[] {
	const out: TaskName[] = [];
	for (const name of names
		.flatMap((n) => n.split(","))
		.map((n) => n.trim())
		.filter((n) => n !== "")) {
		const alias = Object.hasOwn(TASK_ALIASES, name) ? TASK_ALIASES[name] : undefined;
		for (const t of alias ?? [getTaskOrAlias(name)]) if (!out.includes(t)) out.push(t);
	}
	if (out.length === 0) throw new EvaluationError("Config", "no task named (an empty --tasks list)");
	return out;
}

function getTaskOrAlias(name: string): TaskName {
	if (isTaskName(name)) return name;
	throw new EvaluationError(
		"Config",
		`unknown task "${name}"; known tasks: ${TASK_NAMES.join(", ")} (aliases: ${Object.keys(TASK_ALIASES).join(", ")})`,
	);
}

/** The task a BioInstructQA `corpus_name` belongs to, or undefined. */
export function taskOfCorpus(corpusName: string): TaskSpec | undefined {
	return TASKS.find((t) => t.corpusName === corpusName);
}
