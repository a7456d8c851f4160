import { describe, expect, test } from "vitest";
import { createDownloadRenderer, createUploadRenderer } from "../../src/cli/hub-render.js";
import type { Io } from "../../src/cli/output.js";

function capture(): Io & { lines: string[] } {
	const lines: string[] = [];
	return { lines, out: (l) => lines.push(`out:${l}`), err: (l) => lines.push(l), isTty: false };
}

describe("download progress without a terminal", () => {
	test("a header, transferred files, a line per 10 % with rate and ETA, and the destination", () => {
		const io = capture();
		const r = createDownloadRenderer(io, { quiet: false });
		r.onEvent({
			event: "resolved",
			repoId: "org/m",
			revision: "main",
			commit: "c".repeat(40),
			files: 3,
			totalBytes: 3_000_000,
			cachedBytes: 1_000_000,
		});
		r.onEvent({ event: "fileStart", path: "a.safetensors", size: 2_000_000, resumedFrom: 500_000 });
		r.onEvent({ event: "progress", doneBytes: 1_500_000, totalBytes: 3_000_000 });
		r.onEvent({ event: "progress", doneBytes: 1_600_000, totalBytes: 3_000_000 });
		r.onEvent({ event: "retry", path: "a.safetensors", attempt: 1, reason: "ECONNRESET" });
		r.onEvent({ event: "fileDone", path: "config.json", size: 10, from: "cache" });
		r.onEvent({ event: "fileDone", path: "a.safetensors", size: 2_000_000, from: "hub" });
		r.onEvent({ event: "done", path: "/cache/snap", commit: "c".repeat(40), downloadedBytes: 1_500_000, seconds: 2 });
		expect(io.lines[0]).toBe("downloading org/m@main (cccccccccc): 3 files, 3.00 MB, 1.00 MB already cached");
		expect(io.lines[1]).toBe("resuming a.safetensors at 500 KB of 2.00 MB");
		expect(io.lines[2]).toMatch(/^\[50%\] 1.50 MB \/ 3.00 MB, .+\/s, ETA .+$/);
		expect(io.lines.filter((l) => l.startsWith("["))).toHaveLength(1);
		expect(io.lines).toContain("retrying a.safetensors (attempt 2): ECONNRESET");
		expect(io.lines).toContain("  a.safetensors (2.00 MB)");
		expect(io.lines.some((l) => l.includes("config.json"))).toBe(false);
		expect(io.lines.at(-1)).toBe("transferred 1.50 MB in 2.0 s → /cache/snap");
	});

	test("everything cached is one line; quiet prints only warnings", () => {
		const io = capture();
		const r = createDownloadRenderer(io, { quiet: false });
		r.onEvent({
			event: "resolved",
			repoId: "org/m",
			revision: "c".repeat(40),
			commit: "c".repeat(40),
			files: 2,
			totalBytes: 5,
			cachedBytes: 5,
		});
		r.onEvent({ event: "done", path: "/s", commit: "c".repeat(40), downloadedBytes: 0, seconds: 0 });
		expect(io.lines).toEqual(["org/m@cccccccccc: all 2 files are in the cache"]);
		const q = capture();
		const rq = createDownloadRenderer(q, { quiet: true });
		rq.onEvent({ event: "resolved", repoId: "org/m", revision: "main", commit: "c".repeat(40), files: 2, totalBytes: 5, cachedBytes: 0 });
		rq.onEvent({ event: "warning", message: "no flock" });
		expect(q.lines).toEqual(["warning: no flock"]);
	});
});

test("upload progress: plan, phases, each file once, the commit", () => {
	const io = capture();
	const r = createUploadRenderer(io, { quiet: false });
	r.onEvent({ event: "planned", repo: "me/m", files: 2, bytes: 2000, created: true });
	r.onEvent({ event: "phase", phase: "uploadingLargeFiles" });
	r.onEvent({ event: "fileProgress", path: "a", state: "uploading", progress: 1 });
	r.onEvent({ event: "fileProgress", path: "a", state: "uploading", progress: 1 });
	r.onEvent({ event: "done", repo: "me/m", commit: "d".repeat(40), url: "http://hub/me/m/commit/d", seconds: 1 });
	expect(io.lines).toEqual([
		"uploading 2 files (2.00 KB) to me/m (new repo)",
		"uploading large files",
		"  a",
		"committed dddddddddd in 1.0 s: http://hub/me/m/commit/d",
	]);
});
