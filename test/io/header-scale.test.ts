/**
 * Item 17 of issue 12: big valid headers parse in memory linear in their size with a small constant. Not a timed
 * test (the speed target lives in `npm run bench`): the parse runs in a child process whose V8 heap is capped at
 * HEAP_MB, which the previous parser (a JSON tree of the whole header, one string piece per escape) overflowed on
 * both shapes below, and which the one-pass parser stays far under.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { REPO_ROOT } from "../helpers/cli.js";

const CHILD = path.join(REPO_ROOT, "test", "io", "header-scale-child.ts");

/** V8 old-space cap of the child: about 5× what the new parser needs for either shape. */
const HEAP_MB = 128;

function parseInChild(shape: "escapes" | "tensors" | "index", size: number): { tensors: number; notes: number; last: string | null } {
	const run = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, "--import", "tsx", CHILD, shape, String(size)], {
		cwd: REPO_ROOT,
		encoding: "utf8",
		timeout: 120_000,
	});
	expect(run.stderr).not.toMatch(/heap out of memory/);
	expect(run.status).toBe(0);
	return JSON.parse(run.stdout.trim().split("\n").pop()!) as { tensors: number; notes: number; last: string | null };
}

describe("big headers parse within a small heap", () => {
	test("24 MB of \\n escapes in one metadata value (12 M escapes)", () => {
		expect(parseInChild("escapes", 24_000_000)).toEqual({ tensors: 0, notes: 11_999_985, last: null });
	}, 120_000);

	test("200,000 tensor entries (14 MB)", () => {
		expect(parseInChild("tensors", 200_000)).toEqual({ tensors: 200_000, notes: 0, last: "t199999" });
	}, 120_000);

	test("an index.json (same size limit) whose tensor name is 24 MB of \\n escapes", () => {
		expect(parseInChild("index", 24_000_000)).toEqual({ tensors: 1, notes: 12_000_000, last: "model.safetensors" });
	}, 120_000);
});
