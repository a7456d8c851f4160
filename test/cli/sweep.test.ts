import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { ResultsStore, type StoredTrial } from "../../src/sweep/store.js";
import { collect, errorLines, hasStackTrace, runCli, spawnCli } from "../helpers/cli.js";
import { useTempDir } from "../helpers/fs.js";
import { SAMPLE_DATA, SAMPLE_SHOTS, writeSweepFixture } from "../sweep/fixtures.js";

const dir = useTempDir("lm-merge-cli-sweep-");
let sweep: string;

beforeAll(async () => {
	({ sweep } = await writeSweepFixture(dir()));
});

function rows(store: string): StoredTrial[] {
	const s = ResultsStore.open(store, { readonly: true });
	try {
		return s.list();
	} finally {
		s.close();
	}
}

describe("merge sweep (local)", () => {
	test("runs the grid, prints one row per trial, and the store sits beside the sweep file", async () => {
		const r = await runCli(["sweep", sweep], { cwd: dir() });
		expect(r.exitCode, r.stderr).toBe(0);
		const lines = r.stdout.trim().split("\n");
		expect(lines[0]).toBe("| # | t | MedQA | mean_acc_letters | s | status |");
		expect(lines.slice(2).map((l) => l.split("|")[2]?.trim())).toEqual(["0", "0.5", "1"]);
		expect(lines.slice(2).every((l) => l.endsWith("| done |"))).toBe(true);
		expect(r.stderr).toContain("3 trial(s) done, 0 failed");
		expect(rows(path.join(dir(), "sweep.sqlite")).map((x) => x.status)).toEqual(["done", "done", "done"]);
	});

	test("status reads the store; best merges the best trial again in full", async () => {
		const status = await runCli(["sweep", "status", sweep], { cwd: dir() });
		expect(status.exitCode).toBe(0);
		expect(status.stdout).toContain("sweep sweep: 3 trial(s): 3 done, 0 running, 0 queued, 0 failed");
		const best = [...rows(path.join(dir(), "sweep.sqlite"))].sort((a, b) => (b.objective ?? 0) - (a.objective ?? 0))[0] as StoredTrial;
		const out = path.join(dir(), "best");
		const r = await runCli(["sweep", "best", sweep, "--out", out, "--quiet"], { cwd: dir() });
		expect(r.exitCode, r.stderr).toBe(0);
		expect(existsSync(path.join(out, "model.safetensors"))).toBe(true);
		const recipe = parse(await readFile(path.join(out, "merge-recipe.yml"), "utf8"));
		expect(recipe.parameters.t).toBe(best.params["parameters.t"]);
	});

	test("a sweep killed (SIGKILL) mid-trial resumes: finished trials are reused, the lost one runs again", async () => {
		const root = path.join(dir(), "killed");
		const { sweep: file } = await writeSweepFixture(root);
		const child = spawnCli(["sweep", file], { cwd: root });
		const done = collect(child);
		let stderr = "";
		await new Promise<void>((resolve) => {
			child.stderr.on("data", (d: Buffer) => {
				stderr += d.toString();
				if (/\[1\/3\].*objective/.test(stderr) && /t=0\.5: started/.test(stderr)) resolve();
			});
		});
		child.kill("SIGKILL");
		await done;
		expect(rows(path.join(root, "sweep.sqlite")).map((x) => x.status)).toEqual(["done", "running", "queued"]);
		const r = await runCli(["sweep", file], { cwd: root });
		expect(r.exitCode, r.stderr).toBe(0);
		expect(r.stderr).toMatch(/t=0: done earlier/);
		const end = rows(path.join(root, "sweep.sqlite"));
		expect(end.map((x) => x.status)).toEqual(["done", "done", "done"]);
		expect(end.map((x) => x.attempts)).toEqual([1, 2, 1]);
	});

	test.each([
		["a sweep file with an unknown key", ["sweep", "bad.yml"], 1, "bad.yml"],
		["a missing sweep file", ["sweep", "missing.yml"], 1, "missing.yml"],
		["--detach without --queue", ["sweep", "sweep.yml", "--detach"], 2, "--detach needs --queue"],
		["status with neither file nor store", ["sweep", "status"], 2, "name the sweep file"],
		["best from a store that does not exist", ["sweep", "best", "--store", "nope.sqlite"], 1, "no results store"],
		["an unreachable queue", ["sweep", "sweep.yml", "--queue", "redis://127.0.0.1:1"], 1, "cannot reach Redis"],
	])("%s: one error line and the right exit code", async (_, args, code, needle) => {
		await writeFile(path.join(dir(), "bad.yml"), "recipe: slerp.yml\ngrid: {parameters.t: [1]}\neval: {data: d}\nseeds: 3\n");
		const r = await runCli(args, { cwd: dir() });
		expect(r.exitCode).toBe(code);
		expect(errorLines(r.stderr)).toHaveLength(1);
		expect(errorLines(r.stderr)[0]).toContain(needle);
		expect(hasStackTrace(r.stderr)).toBe(false);
	});
});

describe("merge eval --store and merge report", () => {
	test("an evaluation appends one row to the same store; evaluating again replaces it", async () => {
		const store = path.join(dir(), "sweep.sqlite");
		const model = path.join(dir(), "models", "a");
		const args = [
			"eval",
			model,
			"--data",
			SAMPLE_DATA,
			"--shots-from",
			SAMPLE_SHOTS,
			"--shots",
			"1",
			"--seeds",
			"2",
			"--store",
			store,
			"--quiet",
		];
		expect((await runCli(args, { cwd: dir() })).exitCode).toBe(0);
		expect((await runCli(args, { cwd: dir() })).exitCode).toBe(0);
		const all = rows(store);
		const evals = all.filter((x) => x.sweep === null);
		expect(evals).toHaveLength(1);
		expect(evals[0]).toMatchObject({ status: "done", params: { model }, model });
		// The same model scored by the sweep (t = 0) and by merge eval: same numbers.
		const t0 = all.find((x) => x.params["parameters.t"] === 0) as StoredTrial;
		expect(evals[0]?.scores?.medqa).toEqual(t0.scores?.medqa);
	});

	test("merge report prints Markdown for a store and writes the HTML page", async () => {
		const html = path.join(dir(), "report.html");
		const r = await runCli(["report", path.join(dir(), "sweep.sqlite"), "--markdown", "--html", html], { cwd: dir() });
		expect(r.exitCode, r.stderr).toBe(0);
		expect(r.stdout).toContain("## Accuracy (%)");
		expect(r.stdout).toContain("| t=0.5 |");
		expect(r.stdout).toContain("| a |");
		expect(await readFile(html, "utf8")).toContain('<figure class="chart"');
	});

	test("a file that is neither a store nor a report: one error line, exit 1", async () => {
		await writeFile(path.join(dir(), "notes.txt"), "hello");
		const r = await runCli(["report", "notes.txt"], { cwd: dir() });
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toEqual([expect.stringContaining("notes.txt: neither a results store nor a JSON evaluation report")]);
	});
});
