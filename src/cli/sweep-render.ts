import type { SweepEvent } from "../sweep/events.js";
import type { Io } from "./output.js";

function describeParams(params: Record<string, unknown>): string {
	const short = (p: string) => /([A-Za-z_][A-Za-z0-9_-]*)(?:\[\d+\])*$/.exec(p)?.[1] ?? p;
	const text = Object.entries(params)
		.map(([k, v]) => `${short(k)}=${typeof v === "string" ? v : JSON.stringify(v)}`)
		.join(", ");
	return text === "" ? "(no varied value)" : text;
}

/** Sweep progress as plain lines on stderr: one when a trial starts, one when it ends. */
export function createSweepRenderer(io: Io, quiet: boolean): { onEvent(e: SweepEvent): void } {
	let planned = 0;
	let settled = 0;
	let shownTenth = -1;
	let best: { objective: number; params: Record<string, unknown> } | undefined;
	const note = (objective: number, params: Record<string, unknown>) => {
		if (Number.isFinite(objective) && (best === undefined || objective > best.objective)) best = { objective, params };
	};
	return {
		onEvent(e) {
			if (e.event === "warning") {
				io.err(`warning: ${e.message}`);
				return;
			}
			if (e.event === "trialFailed") {
				settled++;
				io.err(`[${settled}/${planned}] ${describeParams(e.params)}: failed${e.worker !== undefined ? ` on ${e.worker}` : ""}: ${e.error}`);
				return;
			}
			if (e.event === "trialDone") note(e.objective, e.params);
			if (quiet) return;
			switch (e.event) {
				case "start":
					planned = e.planned;
					io.err(
						`sweep ${e.sweep}: ${e.strategy}, ${e.planned} trial(s); results in ${e.store}${e.queue !== undefined ? `; queue ${e.queue}` : ""}`,
					);
					break;
				case "batch":
					if (e.index > 0 || e.reused > 0)
						io.err(`${e.index > 0 ? `generation ${e.index + 1}: ` : ""}${e.trials} trial(s), ${e.reused} already done`);
					break;
				case "enqueued":
					io.err(`enqueued ${e.jobs} trial(s) on ${e.queue}; waiting for workers (merge worker --queue ...)`);
					break;
				case "phase":
					shownTenth = -1;
					io.err(`  ${e.key.slice(0, 12)}: ${e.phase === "merge" ? "merging" : "scoring"}`);
					break;
				case "progress": {
					// Scoring is the long part of a real trial: a line every 10 % of its prompts.
					const tenth = Math.floor((10 * e.done) / Math.max(1, e.total));
					if (e.phase === "eval" && tenth > shownTenth && e.done < e.total) {
						shownTenth = tenth;
						io.err(`  ${e.key.slice(0, 12)}: ${e.done}/${e.total} prompts`);
					}
					break;
				}
				case "trialStart":
					io.err(`${describeParams(e.params)}: started on ${e.worker}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`);
					break;
				case "trialDone":
					settled++;
					io.err(
						`[${settled}/${planned}] ${describeParams(e.params)}: ${e.reused ? "done earlier, " : ""}objective ${e.objective.toFixed(2)}` +
							`${e.reused ? "" : ` in ${e.seconds.toFixed(1)} s`}`,
					);
					break;
				case "detached":
					io.err(`${e.queued} trial(s) left to the workers; merge sweep status --queue ... collects their results`);
					break;
				case "done":
					io.err(
						`${e.done} trial(s) done, ${e.failed} failed in ${e.seconds.toFixed(1)} s` +
							`${best !== undefined ? `; best: ${describeParams(best.params)} (objective ${best.objective.toFixed(2)})` : ""}`,
					);
					break;
				default:
					break;
			}
		},
	};
}
