import { SweepError } from "../errors.js";
import { TASK_NAMES } from "../eval/tasks/registry.js";
import type { TaskScore } from "../report/types.js";

/** What a sweep maximises, computed from a trial's per-task scores. */
export interface Objective {
	name: string;
	/** The figure for one trial (higher is better); NaN when the scores lack what it needs. */
	of(scores: Readonly<Record<string, TaskScore>>): number;
}

function mean(values: number[]): number {
	return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The objectives a sweep file may name, with what each one means (for messages and docs). */
const OBJECTIVES: Record<string, string> = {
	mean_accuracy: "mean over tasks of the accuracy (the paper's Avg column)",
	mean_acc_letters: "mean over tasks of the letters-only accuracy",
	mean_acc_norm: "mean over tasks of the length-normalised accuracy (harness mode)",
	neg_mean_ece: "minus the mean over tasks of the ECE (better calibrated is higher)",
	"accuracy:<task>": "the accuracy of one task, e.g. accuracy:medqa",
};

/** Parses an objective name; throws SweepError "Spec" naming the choices. */
export function parseObjective(name: string, file?: string): Objective {
	const all = (pick: (s: TaskScore) => number | undefined) => (scores: Readonly<Record<string, TaskScore>>) =>
		mean(Object.values(scores).map((s) => pick(s) ?? Number.NaN));
	switch (name) {
		case "mean_accuracy":
			return { name, of: all((s) => s.acc) };
		case "mean_acc_letters":
			return { name, of: all((s) => s.acc_letters) };
		case "mean_acc_norm":
			return { name, of: all((s) => s.acc_norm) };
		case "neg_mean_ece":
			return { name, of: (scores) => -all((s) => s.ece)(scores) };
	}
	const m = /^accuracy:(.+)$/.exec(name);
	if (m !== null) {
		const task = m[1] as string;
		if (!(TASK_NAMES as readonly string[]).includes(task)) {
			throw new SweepError("Spec", `objective ${name}: unknown task ${task} (tasks: ${TASK_NAMES.join(", ")})`, file);
		}
		return { name, of: (scores) => scores[task]?.acc ?? Number.NaN };
	}
	throw new SweepError("Spec", `objective ${name}: expected one of ${Object.keys(OBJECTIVES).join(", ")}`, file);
}
