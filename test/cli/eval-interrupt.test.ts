import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { type CliResult, collect, errorLines, hasStackTrace, REPO_ROOT, runCli, spawnCli } from "../helpers/cli.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

/**
 * Wide enough (hidden 128) that each prompt of ~700 tokens takes tens of milliseconds on tfjs-wasm, so a Ctrl-C
 * sent at the first progress line lands long before the 12th prompt; small enough to keep the test quick.
 */
const SLOW_SHAPE = { layers: 2, hidden: 128, intermediate: 256, heads: 4, kvHeads: 2, vocab: 96, dtype: "BF16" as const };

const dir = useTempDir("lm-merge-cli-eval-int-");
let model: string;
const data = path.join(REPO_ROOT, "examples", "data", "medqa-sample.jsonl");
const shots = path.join(REPO_ROOT, "examples", "data", "medqa-sample-train.jsonl");
const ARGS = ["--data", data, "--shots-from", shots, "--limit", "4", "--seeds", "3", "--batch", "1", "--device", "cpu"];

beforeAll(async () => {
	model = path.join(dir(), "slow-model");
	await writeTinyMistral(model, { ...SLOW_SHAPE, seed: 21 });
});

/** Runs `merge eval` and sends SIGINT once the first prompt is reported. */
async function interrupted(json: string): Promise<CliResult> {
	const child = spawnCli(["eval", model, ...ARGS, "--json", json], { cwd: dir() });
	let seen = "";
	let sent = false;
	child.stderr.on("data", (d: Buffer | string) => {
		seen += String(d);
		if (!sent && /^\[1\/12\]/m.test(seen)) {
			sent = true;
			child.kill("SIGINT");
		}
	});
	const result = await collect(child);
	expect(sent, `no progress line before exit: ${result.stderr}`).toBe(true);
	return result;
}

/** A report without its volatile figures (wall-clock times and rates). */
function stable(text: string): unknown {
	return JSON.parse(text, (k, v: unknown) => (k === "timings" ? undefined : v));
}

describe("merge eval interrupted by Ctrl-C", () => {
	test("writes a partial report and keeps the checkpoint (exit 130); --resume finishes with the uninterrupted run's report", async () => {
		const json = path.join(dir(), "run.json");
		const r = await interrupted(json);
		expect(r.exitCode, r.stderr).toBe(130);
		expect(errorLines(r.stderr)).toHaveLength(1);
		expect(errorLines(r.stderr)[0]).toMatch(/interrupted after \d+ of 12 prompts; partial report in .*run\.json, continue with --resume/);
		expect(hasStackTrace(r.stderr)).toBe(false);
		const partial = JSON.parse(await readFile(json, "utf8"));
		expect(partial.partial).toBe(true);
		expect(partial.progress.scored).toBeGreaterThan(0);
		expect(partial.progress.scored).toBeLessThan(12);
		expect(partial.items).toHaveLength(partial.progress.scored);
		expect(r.stdout).toContain("PARTIAL");
		const checkpoint = path.join(dir(), "run.checkpoint.jsonl");
		expect(existsSync(checkpoint)).toBe(true);

		const again = await runCli(["eval", model, ...ARGS, "--json", json, "--quiet"], { cwd: dir() });
		expect(again.exitCode).toBe(1);
		expect(errorLines(again.stderr)[0]).toContain("--resume");

		const resumed = await runCli(["eval", model, ...ARGS, "--json", json, "--resume"], { cwd: dir() });
		expect(resumed.exitCode, resumed.stderr).toBe(0);
		expect(resumed.stderr).toMatch(new RegExp(`${partial.progress.scored} already scored, resuming`));
		expect(existsSync(checkpoint)).toBe(false);

		const whole = path.join(dir(), "whole.json");
		const ref = await runCli(["eval", model, ...ARGS, "--json", whole, "--quiet"], { cwd: dir() });
		expect(ref.exitCode, ref.stderr).toBe(0);
		expect(stable(await readFile(json, "utf8"))).toEqual(stable(await readFile(whole, "utf8")));
	}, 180_000);

	test("--resume without a report file is a usage error", async () => {
		const r = await runCli(["eval", model, ...ARGS, "--resume"], { cwd: dir() });
		expect(r.exitCode).toBe(2);
		expect(errorLines(r.stderr)[0]).toContain("--resume needs --json FILE");
	});
});
