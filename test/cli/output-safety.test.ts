/**
 * Issue 12's output-safety items as a user meets them on the command line: `--force` never deletes the working
 * folder or `./merged`, unfinished merges are refused by `inspect` and `eval`, a locked output is a clean
 * refusal, the saved recipe keeps command-line overrides and repo ids, and outputs are readable by others.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mergeModelsIter, parseRecipe } from "../../src/index.js";
import { CLI_MODELS, errorLines, hasStackTrace, REPO_ROOT, runCli, writeCliModels } from "../helpers/cli.js";

let root: string;
let env: Record<string, string>;
let dirs: { base: string; instruct: string; bio: string };

beforeAll(async () => {
	root = await mkdtemp(path.join(tmpdir(), "lm-merge-cli-safe-"));
	env = { HF_HUB_CACHE: path.join(root, "hf-cache") };
	dirs = await writeCliModels(env.HF_HUB_CACHE!);
});

afterAll(async () => {
	await rm(root, { recursive: true, force: true });
});

const RECIPE =
	`merge_method: linear\nmodels:\n  - model: ${CLI_MODELS.instruct}\n    parameters: {weight: 0.5}\n` +
	`  - model: ${CLI_MODELS.bio}\n    parameters: {weight: 0.5}\n`;

let cases = 0;
/** A fresh working folder `<root>/ws<i>/w` holding `precious` and the recipe `r.yml`. */
async function workspace(): Promise<string> {
	const w = path.join(root, `ws${cases++}`, "w");
	await mkdir(w, { recursive: true });
	await writeFile(path.join(w, "precious"), "x\n");
	await writeFile(path.join(w, "r.yml"), RECIPE);
	return w;
}

async function sha(file: string): Promise<string> {
	return createHash("sha256")
		.update(await readFile(file))
		.digest("hex");
}

describe("--force never deletes the working folder, a folder above it, or ./merged", () => {
	test.each([
		["--out ''", () => ""],
		["--out .", () => "."],
		["--out ./", () => "./"],
		["--out ..", () => ".."],
		["the current folder by absolute path", (w: string) => w],
		["the current folder by a relative path", () => "../w"],
		["a folder above the current one", (w: string) => path.dirname(w)],
		["the default output root ./merged", () => "merged"],
	])("%s: usage error (exit 2), one error line, nothing touched", async (_what, out) => {
		const w = await workspace();
		await mkdir(path.join(w, "merged", "earlier"), { recursive: true });
		const r = await runCli(["run", "r.yml", "--out", out(w), "--force"], { cwd: w, env });
		expect(r.exitCode, r.stderr).toBe(2);
		expect(errorLines(r.stderr)).toHaveLength(1);
		expect(errorLines(r.stderr)[0]).toContain("--out");
		expect(hasStackTrace(r.stderr)).toBe(false);
		expect(await readFile(path.join(w, "precious"), "utf8")).toBe("x\n");
		expect((await readdir(w)).sort()).toEqual(["merged", "precious", "r.yml"]);
		expect(await readdir(path.join(w, "merged"))).toEqual(["earlier"]);
	});

	test.each(["...yml", "..yml"])("a recipe named %s gets a default output inside ./merged, never the folder itself", async (name) => {
		const w = await workspace();
		await writeFile(path.join(w, name), RECIPE);
		const r = await runCli(["run", name, "--force"], { cwd: w, env });
		expect(errorLines(r.stderr)).toEqual([]);
		expect(r.exitCode).toBe(0);
		expect(r.stdout.trim()).toBe(path.join("merged", "linear"));
		expect(await readFile(path.join(w, "precious"), "utf8")).toBe("x\n");
		expect(await readdir(path.join(w, "merged", "linear"))).toContain("model.safetensors");
	});

	test("an input reached through a symlink is not replaced (recipe model: Alink, --out A --force)", async () => {
		const w = await workspace();
		const { symlink, cp } = await import("node:fs/promises");
		await cp(dirs.bio, path.join(w, "A"), { recursive: true });
		await symlink(path.join(w, "A"), path.join(w, "Alink"));
		await writeFile(
			path.join(w, "s.yml"),
			`merge_method: linear\nmodels:\n  - model: Alink\n    parameters: {weight: 0.5}\n` +
				`  - model: ${CLI_MODELS.instruct}\n    parameters: {weight: 0.5}\n`,
		);
		const before = await sha(path.join(w, "A", "model.safetensors"));
		const r = await runCli(["run", "s.yml", "--out", "A", "--force"], { cwd: w, env });
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)[0]).toContain("Alink");
		expect(await sha(path.join(w, "A", "model.safetensors"))).toBe(before);
	});
});

describe("unfinished merges and locks", () => {
	let partial: string;

	beforeAll(async () => {
		const out = path.join(root, "unfinished", "out");
		await mkdir(path.dirname(out), { recursive: true });
		const controller = new AbortController();
		const recipe = parseRecipe(
			`merge_method: linear\nmodels: [{model: ${dirs.instruct}, parameters: {weight: 1}}, {model: ${dirs.bio}, parameters: {weight: 1}}]\n`,
		);
		try {
			for await (const e of mergeModelsIter(recipe, { out, threads: 1, resume: true, signal: controller.signal }))
				if (e.event === "tensor") controller.abort();
		} catch {
			// interrupted on purpose
		}
		const names = await readdir(path.dirname(out));
		partial = path.join(path.dirname(out), names.find((n) => n.startsWith("out.partial-"))!);
	});

	test("merge inspect refuses a partial folder with the one-line 'unfinished merge' error", async () => {
		const r = await runCli(["inspect", partial], { cwd: root, env });
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toEqual([expect.stringContaining("is an unfinished merge")]);
		expect(errorLines(r.stderr)[0]).toContain("(resume with --resume or delete it)");
		expect(errorLines(r.stderr)[0]).toContain(partial);
	});

	test("merge eval refuses it too", async () => {
		const data = path.join(REPO_ROOT, "examples", "data", "medqa-sample.jsonl");
		const r = await runCli(["eval", partial, "--data", data, "--limit", "1", "--seeds", "1"], { cwd: root, env });
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)[0]).toContain("is an unfinished merge");
	});

	test("an output locked by a running process is refused with its pid", async () => {
		const w = await workspace();
		await writeFile(
			path.join(w, "out.lm-merge.lock"),
			JSON.stringify({ pid: process.pid, host: os.hostname(), since: "2026-01-01T00:00:00Z", nonce: "t" }),
		);
		const r = await runCli(["run", "r.yml", "--out", "out"], { cwd: w, env });
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toEqual([expect.stringContaining(`being written by another lm-merge run (pid ${process.pid}`)]);
		expect(await readdir(w)).not.toContain("out");
	});
});

describe("the saved recipe", () => {
	test(
		"merge run merges/biomistral-dare.yml --seed 7 --dtype float32: the overrides are saved, " +
			"and running the saved recipe gives the same bytes",
		async () => {
			const w = await workspace();
			const r = await runCli(
				["run", path.join(REPO_ROOT, "merges", "biomistral-dare.yml"), "--seed", "7", "--dtype", "float32", "--out", "d7"],
				{ cwd: w, env },
			);
			expect(errorLines(r.stderr)).toEqual([]);
			const saved = await readFile(path.join(w, "d7", "merge-recipe.yml"), "utf8");
			expect(saved).toMatch(/^seed: 7$/m);
			expect(saved).not.toMatch(/^seed: 0$/m);
			expect(saved).toMatch(/^out_dtype: float32$/m);
			expect(saved).toContain("# BioMistral-7B-DARE");
			expect(await readFile(path.join(w, "d7", "mergekit_config.yml"), "utf8")).toBe(saved);
			const again = await runCli(["run", "d7/mergekit_config.yml", "--out", "d7b"], { cwd: w, env });
			expect(errorLines(again.stderr)).toEqual([]);
			expect(await sha(path.join(w, "d7b", "model.safetensors"))).toBe(await sha(path.join(w, "d7", "model.safetensors")));
		},
	);

	test("a quick command saves the Hugging Face repo ids its aliases stand for", async () => {
		const w = await workspace();
		const r = await runCli(["slerp", "--a", "mistral", "--b", "biomistral", "--t", "0.5", "--out", "q"], { cwd: w, env });
		expect(errorLines(r.stderr)).toEqual([]);
		const saved = await readFile(path.join(w, "q", "merge-recipe.yml"), "utf8");
		expect(saved).toContain(`base_model: ${CLI_MODELS.instruct}`);
		expect(saved).toContain(`model: ${CLI_MODELS.bio}`);
		expect(saved).not.toMatch(/: (bio)?mistral$/m);
		const card = await readFile(path.join(w, "q", "README.md"), "utf8");
		expect(card).toContain(`- ${CLI_MODELS.bio}`);
	});
});

test("with umask 027 the output folder is drwxr-x--- and its files rw-r----- (not drwx------)", async () => {
	const w = await workspace();
	const umask = process.umask(0o027);
	let r: Awaited<ReturnType<typeof runCli>>;
	try {
		r = await runCli(["run", "r.yml", "--out", "perm"], { cwd: w, env });
	} finally {
		process.umask(umask);
	}
	expect(errorLines(r.stderr)).toEqual([]);
	expect((await stat(path.join(w, "perm"))).mode & 0o777).toBe(0o750);
	for (const f of await readdir(path.join(w, "perm"))) expect((await stat(path.join(w, "perm", f))).mode & 0o777, f).toBe(0o640);
});
