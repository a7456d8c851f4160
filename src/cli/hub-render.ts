import cliProgress from "cli-progress";
import type { DownloadEvent, UploadEvent } from "../hub/events.js";
import { formatBytes, type Io } from "./output.js";

interface HubRenderOptions {
	quiet: boolean;
}

/** "1m05s", "42s": an ETA for humans. */
function formatSeconds(s: number): string {
	if (!Number.isFinite(s) || s < 0) return "?";
	const r = Math.round(s);
	return r >= 60 ? `${Math.floor(r / 60)}m${String(r % 60).padStart(2, "0")}s` : `${r}s`;
}

/**
 * Renders download events: on a TTY a bar with bytes, rate and ETA; otherwise a line per file and a progress
 * line every 10 %. Rate and ETA count only bytes transferred by this run (cached files do not inflate the rate).
 * Handles several downloads in a row (one per model of a merge).
 */
export function createDownloadRenderer(io: Io, opts: HubRenderOptions): { onEvent(e: DownloadEvent): void; stop(): void } {
	let bar: cliProgress.SingleBar | undefined;
	let start = 0;
	let startBytes = 0;
	let lastTenth = -1;
	const stop = () => {
		bar?.stop();
		bar = undefined;
	};
	const stats = (done: number, total: number) => {
		const secs = (Date.now() - start) / 1000;
		const rate = secs > 0 ? (done - startBytes) / secs : 0;
		return { rate: `${formatBytes(rate)}/s`, eta: rate > 0 ? formatSeconds((total - done) / rate) : "?" };
	};
	return {
		stop,
		onEvent(e) {
			if (e.event === "warning") {
				stop();
				io.err(`warning: ${e.message}`);
				return;
			}
			if (opts.quiet) return;
			switch (e.event) {
				case "resolved": {
					stop();
					const rev = e.revision === e.commit ? e.commit.slice(0, 10) : `${e.revision} (${e.commit.slice(0, 10)})`;
					const cached = e.cachedBytes > 0 ? `, ${formatBytes(e.cachedBytes)} already cached` : "";
					if (e.cachedBytes >= e.totalBytes) io.err(`${e.repoId}@${rev}: all ${e.files} files are in the cache`);
					else io.err(`downloading ${e.repoId}@${rev}: ${e.files} files, ${formatBytes(e.totalBytes)}${cached}`);
					start = Date.now();
					startBytes = e.cachedBytes;
					lastTenth = -1;
					if (io.isTty && e.cachedBytes < e.totalBytes) {
						bar = new cliProgress.SingleBar(
							{ format: "{bar} {percentage}% | {done} / {size} | {rate} | ETA {remaining}", stream: process.stderr, hideCursor: true },
							cliProgress.Presets.shades_classic,
						);
						bar.start(e.totalBytes, e.cachedBytes, {
							done: formatBytes(e.cachedBytes),
							size: formatBytes(e.totalBytes),
							rate: "-",
							remaining: "?",
						});
					}
					return;
				}
				case "progress": {
					const s = stats(e.doneBytes, e.totalBytes);
					if (bar !== undefined) {
						bar.setTotal(e.totalBytes);
						bar.update(e.doneBytes, { done: formatBytes(e.doneBytes), size: formatBytes(e.totalBytes), rate: s.rate, remaining: s.eta });
						return;
					}
					const tenth = Math.floor((10 * e.doneBytes) / Math.max(1, e.totalBytes));
					if (tenth !== lastTenth && e.doneBytes < e.totalBytes) {
						lastTenth = tenth;
						io.err(`[${tenth * 10}%] ${formatBytes(e.doneBytes)} / ${formatBytes(e.totalBytes)}, ${s.rate}, ETA ${s.eta}`);
					}
					return;
				}
				case "waiting":
					if (bar === undefined) io.err(`waiting for another download of ${e.path} (lock ${e.lock})`);
					return;
				case "fileStart":
					if (bar === undefined && e.resumedFrom > 0)
						io.err(`resuming ${e.path} at ${formatBytes(e.resumedFrom)} of ${formatBytes(e.size)}`);
					return;
				case "retry":
					if (bar === undefined) io.err(`retrying ${e.path} (attempt ${e.attempt + 1}): ${e.reason}`);
					return;
				case "fileDone":
					if (bar === undefined && e.from === "hub") io.err(`  ${e.path} (${formatBytes(e.size)})`);
					return;
				case "done":
					stop();
					if (e.downloadedBytes > 0) io.err(`transferred ${formatBytes(e.downloadedBytes)} in ${e.seconds.toFixed(1)} s → ${e.path}`);
					return;
			}
		},
	};
}

/** Renders upload events: phases and per-file completion as lines (the library reports per-file, not per-byte, progress). */
export function createUploadRenderer(io: Io, opts: HubRenderOptions): { onEvent(e: UploadEvent): void } {
	const finished = new Set<string>();
	return {
		onEvent(e) {
			if (opts.quiet) return;
			switch (e.event) {
				case "planned":
					io.err(`uploading ${e.files} files (${formatBytes(e.bytes)}) to ${e.repo}${e.created ? " (new repo)" : ""}`);
					return;
				case "phase":
					io.err(
						e.phase === "preuploading"
							? "checking which files need LFS"
							: e.phase === "uploadingLargeFiles"
								? "uploading large files"
								: "committing",
					);
					return;
				case "fileProgress":
					if (e.state === "uploading" && e.progress >= 1 && !finished.has(e.path)) {
						finished.add(e.path);
						io.err(`  ${e.path}`);
					}
					return;
				case "done":
					io.err(`committed ${e.commit.slice(0, 10)} in ${e.seconds.toFixed(1)} s: ${e.url}`);
					return;
			}
		},
	};
}
