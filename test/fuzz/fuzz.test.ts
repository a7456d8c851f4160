/**
 * The quick fuzz run inside `npm test` (issue 12, item 25): a few thousand seeded mutations of valid safetensors
 * headers and recipes, which must all be accepted or rejected with the project's own errors, agree with the
 * reference header reader, and stay fast. `npm run fuzz` runs the same cases by the million (fuzz/main.ts); the
 * runner itself is tested here with injected faults.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { runFuzzRange } from "../../fuzz/run.js";
import { buildCase, TARGETS } from "../../fuzz/targets.js";
import { REPO_ROOT } from "../helpers/cli.js";

/** The quick run's size and seed (12, the issue): about a second of work per thousand cases. */
const QUICK_CASES = 2400;
const QUICK_SEED = 12;

describe("quick fuzz run", () => {
	test(`${QUICK_CASES} cases of seed ${QUICK_SEED}: no crash, mismatch, refused valid input or slow case`, () => {
		const tally = runFuzzRange({ seed: QUICK_SEED, start: 0, end: QUICK_CASES, targets: TARGETS });
		expect(tally.failures).toEqual([]);
		expect(tally.cases).toBe(QUICK_CASES);
		// Both paths are exercised: a fuzzer that only ever produced garbage (or only valid files) would test little.
		expect(tally.accepted).toBeGreaterThan(QUICK_CASES * 0.1);
		expect(tally.rejected).toBeGreaterThan(QUICK_CASES * 0.4);
	}, 300_000);

	test("a case depends only on (seed, index), not on the cases built before it", () => {
		for (const target of TARGETS) {
			// Built forwards, then backwards: shared state between cases (a mutated constant) would show as a difference.
			const forwards = Array.from({ length: 200 }, (_, i) => buildCase(target, 7, i));
			for (let i = 199; i >= 0; i--) expect(buildCase(target, 7, i), `${target} case ${i}`).toEqual(forwards[i]);
			expect(buildCase(target, 7, 123)).toEqual(buildCase(target, 7, 123));
			expect(buildCase(target, 7, 123)).not.toEqual(buildCase(target, 7, 124));
			expect(buildCase(target, 7, 123)).not.toEqual(buildCase(target, 8, 123));
		}
	});
});

describe("npm run fuzz", () => {
	const fuzz = (args: string[], env: Record<string, string> = {}) =>
		spawnSync(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "fuzz", "main.ts"), ...args], {
			cwd: REPO_ROOT,
			encoding: "utf8",
			env: { ...process.env, ...env },
			timeout: 120_000,
		});

	test("prints the tally and exits 0 when every case passes", () => {
		const run = fuzz(["--cases", "40", "--seed", "3"]);
		expect(run.stdout).toMatch(/fuzz: 40 cases in \d+ s/);
		expect(run.stdout).toMatch(/accepted \d+ {2}rejected \d+ {2}crashed 0 {2}slow 0 {2}\(mismatch 0, unmutated refused 0, hangs 0\)/);
		expect(run.status).toBe(0);
	}, 120_000);

	test("reports an injected crash and hang with replay commands, runs every other case, and exits 1", () => {
		const run = fuzz(["--cases", "8", "--hang-ms", "1500"], { LM_MERGE_FUZZ_INJECT: "crash@2,hang@5" });
		expect(run.stdout).toContain("fuzz: 8 cases");
		expect(run.stdout).toMatch(/crashed 1 {2}slow 0 {2}\(mismatch 0, unmutated refused 0, hangs 1\)/);
		expect(run.stdout).toMatch(/hang: recipe case 5 \(.*\): still running after 1500 ms/);
		expect(run.stdout).toContain("crashed: header case 2");
		expect(run.stdout).toContain("replay: npm run fuzz -- --seed 1 --case 5");
		expect(run.status).toBe(1);
	}, 120_000);

	test("replays one case and refuses bad flags", () => {
		const replay = fuzz(["--seed", "3", "--case", "1"]);
		expect(replay.stdout).toMatch(/^case 1 of seed 3 \(recipe\)/);
		expect(replay.status).toBe(0);
		const bad = fuzz(["--cases", "lots"]);
		expect(bad.stderr).toMatch(/^error: --cases lots: expected an integer/);
		expect(bad.status).toBe(2);
	}, 120_000);
});
