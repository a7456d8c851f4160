import cliProgress from "cli-progress";
import type { MergeEvent } from "../exec/events.js";
import { formatBytes, type Io } from "./output.js";
import { printable } from "./printable.js";

export interface RenderOptions {
	quiet: boolean;
	json: boolean;
	/** The word the "planned" line starts with (default "merging"). */
	verb?: string;
}

/**
 * Turns merge events into terminal output: a progress bar (tensors, bytes, ETA) on a TTY, plain lines
 * otherwise; with --quiet only warnings; with --json nothing on stdout until the final summary.
 */
export function createRenderer(io: Io, opts: RenderOptions): { onEvent(e: MergeEvent): void; stop(): void } {
	let bar: cliProgress.SingleBar | undefined;
	const stop = () => {
		bar?.stop();
		bar = undefined;
	};
	return {
		stop,
		onEvent(e) {
			if (e.event === "warning") {
				if (bar !== undefined) bar.stop();
				io.err(`warning: ${printable(e.message)}`);
				return;
			}
			if (opts.quiet) return;
			switch (e.event) {
				case "planned":
					io.err(`${opts.verb ?? "merging"} ${e.tensors} tensors (${formatBytes(e.bytes)}) into ${e.shards} shard(s) → ${e.out}`);
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
				case "tensor":
					if (bar !== undefined) bar.update(e.index + 1, { done: formatBytes(e.doneBytes), size: formatBytes(e.totalBytes) });
					else io.err(`[${e.index + 1}/${e.total}] ${printable(e.name)} (${formatBytes(e.doneBytes)} / ${formatBytes(e.totalBytes)})`);
					return;
				case "shardWritten":
					if (bar === undefined) io.err(`wrote ${printable(e.path)} (${formatBytes(e.bytes)})`);
					return;
				case "resumed":
					io.err(`resuming: ${e.shards} shard(s), ${e.tensors} tensors already complete and verified`);
					return;
				case "done":
					stop();
					return;
			}
		},
	};
}
