import { existsSync } from "node:fs";
import { SweepError } from "../errors.js";
import { buildTrial } from "./build-trial.js";
import type { SweepSpec } from "./spec.js";
import type { ParamSet } from "./strategy.js";
import type { TrialSpec } from "./trial-types.js";

/** How many trials a sweep plans: the grid's size, the random draws, or the search budget. */
export function plannedTrials(spec: SweepSpec): number {
	const s = spec.strategy;
	if (s.kind === "grid") return s.axes.reduce((n, a) => n * a.values.length, 1);
	return s.kind === "random" ? s.n : s.budget;
}

/** The batch's trials, built (and so checked) before any runs, without repeats of the same key. */
export function trialsOf(spec: SweepSpec, batch: readonly ParamSet[]): { trials: TrialSpec[]; unique: TrialSpec[] } {
	const trials = batch.map((p) => buildTrial(spec, p));
	const byKey = new Map<string, TrialSpec>();
	for (const t of trials) if (!byKey.has(t.key)) byKey.set(t.key, t);
	return { trials, unique: [...byKey.values()] };
}

/** Local runs read the data on this machine: a missing file fails the sweep before the first merge. */
export function checkLocalData(spec: SweepSpec): void {
	for (const [what, p] of [
		["eval.data", spec.eval.data],
		["eval.shots-from", spec.eval.shotsFrom],
	] as const) {
		if (p !== undefined && !existsSync(p)) throw new SweepError("NotFound", `${what}: ${p} does not exist`, spec.file);
	}
}
