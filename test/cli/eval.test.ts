import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { errorLines, hasStackTrace, REPO_ROOT, runCli, writeCliModels } from "../helpers/cli.js";
import { useTempDir } from "../helpers/fs.js";

const dir = useTempDir("lm-merge-cli-eval-");
let models: { base: string; instruct: string; bio: string };
const data = path.join(REPO_ROOT, "examples", "data", "medqa-sample.jsonl");
const shots = path.join(REPO_ROOT, "examples", "data", "medqa-sample-train.jsonl");

beforeAll(async () => {
	models = await writeCliModels(path.join(dir(), "cache"));
});

describe("merge eval", () => {
	test("--json alone prints the report with the spec's keys on stdout", async () => {
		const r = await runCli(
			["eval", models.bio, "--data", data, "--shots-from", shots, "--limit", "2", "--seeds", "2", "--shots", "1", "--json", "--quiet"],
			{ cwd: dir() },
		);
		expect(r.exitCode).toBe(0);
		const report = JSON.parse(r.stdout);
		for (const key of ["mode", "shots", "seeds", "models", "ensemble", "letter_token_ids", "tasks", "items"])
			expect(report).toHaveProperty(key);
		expect(report.seeds).toEqual([0, 1]);
		expect(report.tasks.medqa.n).toBe(2);
		expect(report.items).toHaveLength(4);
		const item = report.items[0];
		expect(item.prompt).toBeUndefined();
		expect(Object.keys(item.letter_probs).sort()).toEqual(["A", "B", "C", "D"]);
		// labelled by repo id, not by the snapshot hash of the Hugging Face cache folder
		expect(report.model_names).toEqual(["BioMistral/BioMistral-7B"]);
		expect(report.models[0]).toMatch(/snapshots/);
	});

	test("lm-evaluation-harness habits: --tasks a,b with harness names, --num_fewshot, --limit, --output_path DIR/", async () => {
		const out = path.join(dir(), "harness-out") + path.sep;
		const prompts = path.join(dir(), "prompts.jsonl");
		const r = await runCli(
			[
				"eval",
				models.bio,
				"--data",
				data,
				"--shots-from",
				shots,
				"--tasks",
				"medqa_4options,medqa",
				"--num_fewshot",
				"1",
				"--limit",
				"2",
				"--seeds",
				"1",
				"--output_path",
				out,
				"--save-prompts",
				prompts,
				"--quiet",
			],
			{ cwd: dir() },
		);
		expect(r.exitCode, r.stderr).toBe(0);
		const report = JSON.parse(await readFile(path.join(out, "BioMistral--BioMistral-7B.json"), "utf8"));
		expect(report.shots).toBe(1);
		expect(Object.keys(report.tasks)).toEqual(["medqa"]);
		expect(report.items).toHaveLength(2);
		expect(r.stdout).toContain("| BioMistral/BioMistral-7B |");
		const saved = (await readFile(prompts, "utf8"))
			.trimEnd()
			.split("\n")
			.map((l) => JSON.parse(l));
		expect(saved).toHaveLength(2);
		expect(saved[0].prompt.endsWith("**Answer:**(")).toBe(true);
		expect(saved[0].prompt_ids).toHaveLength(report.items[0].tokens);
		// no checkpoint is left beside a finished report
		expect((await readdir(out)).sort()).toEqual(["BioMistral--BioMistral-7B.json"]);
	});

	test("a prompt longer than the model takes: one error line naming task, item and length; --skip-bad skips it", async () => {
		const r = await runCli(
			["eval", models.bio, "--data", data, "--shots-from", shots, "--limit", "2", "--seeds", "1", "--max-tokens", "300", "--quiet"],
			{ cwd: dir() },
		);
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toHaveLength(1);
		expect(errorLines(r.stderr)[0]).toMatch(
			/medqa item \S+ \(seed 0\): the prompt is \d+ tokens, more than the 300 allowed by --max-tokens/,
		);
		const skip = await runCli(
			[
				"eval",
				models.bio,
				"--data",
				data,
				"--shots",
				"0",
				"--limit",
				"2",
				"--seeds",
				"1",
				"--max-tokens",
				"370",
				"--skip-bad",
				"--json",
				"--quiet",
			],
			{ cwd: dir() },
		);
		expect(skip.exitCode, skip.stderr).toBe(0);
		const report = JSON.parse(skip.stdout);
		expect(report.progress.skipped).toBe(1);
		expect(report.items).toHaveLength(1);
		expect(report.progress.skipped).toBeGreaterThan(0);
		expect(skip.stderr).toMatch(/warning: medqa item \S+ \(seed 0\): the prompt is \d+ tokens.*skipped/);
	});

	test("tables on stdout, --json FILE and --markdown FILE written, ensemble of two models", async () => {
		const json = path.join(dir(), "report.json");
		const md = path.join(dir(), "table.md");
		const r = await runCli(
			[
				"eval",
				models.bio,
				models.instruct,
				"--ensemble",
				"--data",
				data,
				"--shots-from",
				shots,
				"--limit",
				"1",
				"--seeds",
				"1",
				"--shots",
				"0",
				"--json",
				json,
				"--markdown",
				md,
				"--quiet",
			],
			{ cwd: dir() },
		);
		expect(r.exitCode).toBe(0);
		expect(r.stdout).toContain("| Model |");
		expect(JSON.parse(await readFile(json, "utf8")).ensemble).toBe(true);
		expect(await readFile(md, "utf8")).toContain("ECE");
	});

	test("a missing data file is one error line and exit 1", async () => {
		const r = await runCli(["eval", models.bio, "--data", path.join(dir(), "nope.jsonl")], { cwd: dir() });
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toHaveLength(1);
		expect(hasStackTrace(r.stderr)).toBe(false);
	});
});
