import cliProgress from "cli-progress";
import type { EvalEvent } from "../eval/types.js";
import type { Io } from "./output.js";
import { printable } from "./printable.js";

/** "1h02m", "3m20s", "45s": short enough for a progress line. */
export function formatDuration(seconds: number): string {
	if (!Number.isFinite(seconds) || seconds < 0) return "?";
	const s = Math.round(seconds);
	if (s < 60) return `${s}s`;
	if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
	return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Tokens/s of this process and the ETA from the prompt tokens still to run (a prompt's cost is its length). */
export function rateAndEta(e: Extract<EvalEvent, { event: "item" }>): { rate: string; eta: string } {
	if (e.seconds <= 0 || e.tokens === 0) return { rate: "–", eta: "?" };
	const tps = e.tokens / e.seconds;
	return { rate: tps >= 100 ? tps.toFixed(0) : tps.toFixed(1), eta: formatDuration(e.tokensLeft / tps) };
}

/** Renders evaluator progress: a bar with tokens/s and ETA on a TTY, a line every ~10 % otherwise. */
export function evalProgress(io: Io, quiet: boolean): { onEvent(e: EvalEvent): void; stop(): void } {
	let bar: cliProgress.SingleBar | undefined;
	let lastPct = -1;
	return {
		stop: () => bar?.stop(),
		onEvent(e) {
			if (e.event === "warning") {
				io.err(`warning: ${printable(e.message)}`);
				return;
			}
			if (quiet) return;
			if (e.event === "note") {
				io.err(e.message);
			} else if (e.event === "start") {
				const resumed = e.resumed > 0 ? ` (${e.resumed} already scored, resuming)` : "";
				io.err(`scoring ${e.total} prompts (${e.tasks.join(", ")})${resumed}`);
			} else if (e.event === "model") {
				if (bar !== undefined) bar.stop();
				io.err(`model ${e.index + 1}: ${e.name}${e.backend !== undefined ? ` on ${e.backend}` : ""}`);
				if (io.isTty && bar === undefined) {
					bar = new cliProgress.SingleBar(
						{
							format: "{bar} {percentage}% | {value}/{total} prompts | {rate} tok/s | ETA {remaining}",
							stream: process.stderr,
							hideCursor: true,
						},
						cliProgress.Presets.shades_classic,
					);
				}
			} else if (e.event === "item") {
				const { rate, eta } = rateAndEta(e);
				if (bar !== undefined) {
					if (bar.getTotal() !== e.total || !bar.isActive) bar.start(e.total, e.done, { rate, remaining: eta });
					else bar.update(e.done, { rate, remaining: eta });
				} else {
					const pct = Math.floor((10 * e.done) / Math.max(1, e.total));
					if (pct !== lastPct) {
						lastPct = pct;
						io.err(`[${e.done}/${e.total}] ${rate} tok/s, ETA ${eta}`);
					}
				}
			}
		},
	};
}
