import { createHash } from "node:crypto";
import type { TrialEval } from "./trial-types.js";

/** Bumped when what a key covers changes, so old rows are not mistaken for new trials. */
const KEY_VERSION = 1;

/** JSON with object keys sorted at every level: equal values give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
	return JSON.stringify(value, (_, v: unknown) => {
		if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
		return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
	});
}

/**
 * The evaluation settings that change a result, in one normal form: defaults spelled out where the
 * evaluator's are fixed, seeds as a list, tasks sorted. Batch size, device and layer streaming only
 * change speed, so they are left out: re-running a sweep on a GPU reuses its CPU results.
 */
export function evalKeyFields(e: TrialEval): Record<string, unknown> {
	const seeds = typeof e.seeds === "number" ? Array.from({ length: e.seeds }, (_, i) => i) : (e.seeds ?? [0, 1, 2]);
	return {
		data: e.data,
		tasks: e.tasks !== undefined ? [...e.tasks].sort() : null,
		mode: e.mode ?? "biomistral",
		shots: e.shots ?? null,
		seeds,
		limit: e.limit ?? null,
		shots_from: e.shotsFrom ?? null,
		skip_bad: e.skipBad ?? false,
		cop_base: e.copBase ?? null,
		bos: e.bos ?? null,
		translated: e.translated ?? false,
		backend: e.backend ?? "tfjs",
		quant: e.quant ?? null,
	};
}

/** sha256 (hex) of what identifies a result: `subject` (a resolved recipe, or evaluated model paths) plus the eval settings. */
export function resultKey(subject: Record<string, unknown>, e: TrialEval): string {
	return createHash("sha256")
		.update(canonicalJson({ v: KEY_VERSION, ...subject, eval: evalKeyFields(e) }))
		.digest("hex");
}
