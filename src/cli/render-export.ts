import cliProgress from "cli-progress";
import type { ExportEvent } from "../gguf/export.js";
import { formatBytes, type Io } from "./output.js";

/**
 * Turns GGUF export events into terminal output: a byte progress bar with ETA on a TTY, a line per ~10 %
 * otherwise; warnings always; nothing else with --quiet.
 */
export function createExportRenderer(io: Io, quiet: boolean): { onEvent(e: ExportEvent): void; stop(): void } {
	let bar: cliProgress.SingleBar | undefined;
	let lastTenth = -1;
	const stop = () => {
		bar?.stop();
		bar = undefined;
	};
	return {
		stop,
		onEvent(e) {
			if (e.event === "warning") {
				io.err(`warning: ${e.message}`);
				return;
			}
			if (quiet) return;
			switch (e.event) {
				case "planned": {
					const types = Object.entries(e.types)
						.map(([t, n]) => `${n} ${t}`)
						.join(", ");
					io.err(
						`exporting ${e.tensors} tensors (${types}) as ${e.type}: ${formatBytes(e.readBytes)} → ${formatBytes(e.bytes)} → ${e.out}`,
					);
					if (io.isTty) {
						bar = new cliProgress.SingleBar(
							{
								format: "{bar} {percentage}% | {value}/{total} tensors | {done} / {size} | ETA {eta_formatted}",
								stream: process.stderr,
								hideCursor: true,
							},
							cliProgress.Presets.shades_classic,
						);
						bar.start(e.tensors, 0, { done: formatBytes(0), size: formatBytes(e.bytes) });
					}
					return;
				}
				case "tensor":
					if (bar !== undefined) bar.update(e.index + 1, { done: formatBytes(e.doneBytes), size: formatBytes(e.totalBytes) });
					else {
						const tenth = Math.floor((10 * (e.index + 1)) / e.total);
						if (tenth !== lastTenth) {
							lastTenth = tenth;
							io.err(
								`[${e.index + 1}/${e.total}] ${e.ggufName} ${e.ggmlType} (${formatBytes(e.doneBytes)} / ${formatBytes(e.totalBytes)})`,
							);
						}
					}
					return;
				case "done":
					stop();
					io.err(`wrote ${e.out} (${formatBytes(e.bytes)}) in ${e.seconds.toFixed(1)} s`);
					return;
			}
		},
	};
}
