import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CLI_MODELS, type CliResult, errorLines, hasStackTrace, runCli, writeCliModels } from "../helpers/cli.js";

let root: string;
let work: string;
let cache: string;
let env: Record<string, string>;
let dirs: { base: string; instruct: string; bio: string };

beforeAll(async () => {
	root = await mkdtemp(path.join(tmpdir(), "lm-merge-cli-err-"));
	work = path.join(root, "work");
	await mkdir(work, { recursive: true });
	cache = path.join(root, "hf-cache");
	env = { HF_HUB_CACHE: cache };
	dirs = await writeCliModels(cache);
});

afterAll(async () => {
	await rm(root, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args, { cwd: work, env });
const SLERP = ["slerp", "--a", "biomistral", "--b", "mistral", "--t", "0.5", "--quiet"];

/** Exit code `code`, exactly one `error:` line (returned), and no stack trace anywhere. */
function expectFailure(r: CliResult, code: number): string {
	expect(r.exitCode, r.stderr).toBe(code);
	const lines = errorLines(r.stderr);
	expect(lines, r.stderr).toHaveLength(1);
	expect(hasStackTrace(r.stderr + r.stdout)).toBe(false);
	return lines[0]!;
}

async function writeRecipe(name: string, lines: string[]): Promise<string> {
	await writeFile(path.join(work, name), `${lines.join("\n")}\n`);
	return name;
}

describe("runtime failures exit 1 with one error line", () => {
	test("a missing model says where it looked", async () => {
		const line = expectFailure(
			await cli("slerp", "--a", "nobody/no-such-model", "--b", "mistral", "--t", "0.5", "--out", path.join(root, "x")),
			1,
		);
		expect(line).toContain("nobody/no-such-model");
		expect(line).toContain(path.join(work, "nobody", "no-such-model"));
		expect(line).toContain(path.join(cache, "models--nobody--no-such-model"));
		expect(existsSync(path.join(root, "x"))).toBe(false);
	});

	test("a bad recipe value names its YAML path", async () => {
		const file = await writeRecipe("bad-value.yml", [
			"merge_method: linear",
			"models:",
			"  - model: biomistral",
			"    parameters:",
			"      weight: [1, {a: 2}]",
		]);
		const line = expectFailure(await cli("plan", file), 1);
		expect(line).toContain("bad-value.yml");
		expect(line).toContain("models[0].parameters.weight[1]");
	});

	test("a missing key names its YAML path and line", async () => {
		const file = await writeRecipe("missing-key.yml", ["merge_method: linear", "models:", "  - modell: biomistral"]);
		const line = expectFailure(await cli("run", file, "--out", path.join(root, "y")), 1);
		expect(line).toMatch(/models\[0\]\.model\b.*line 3/);
	});

	test("an unknown method suggests the closest name", async () => {
		const file = await writeRecipe("typo.yml", [
			"merge_method: slerpp",
			"base_model: mistral",
			"models:",
			"  - model: mistral",
			"  - model: biomistral",
		]);
		expect(expectFailure(await cli("plan", file), 1)).toContain('did you mean "slerp"');
	});

	test("inspect rejects a file that is not safetensors, naming it", async () => {
		const file = path.join(root, "garbage.safetensors");
		await writeFile(file, "this is not a safetensors file at all");
		expect(expectFailure(await cli("inspect", file), 1)).toContain(file);
	});

	test("a truncated shard fails inspect and merge, and the merge leaves no output", async () => {
		const broken = path.join(root, "truncated");
		await cp(dirs.bio, broken, { recursive: true });
		const shard = path.join(broken, "model.safetensors");
		await truncate(shard, (await stat(shard)).size - 100);
		expect(expectFailure(await cli("inspect", broken), 1)).toContain(shard);
		const out = path.join(root, "from-truncated");
		expect(expectFailure(await cli("slerp", "--a", broken, "--b", "mistral", "--t", "0.5", "--out", out), 1)).toContain(shard);
		expect(existsSync(out)).toBe(false);
		expect((await readdir(root)).filter((n) => n.startsWith("from-truncated"))).toEqual([]);
	});

	test("an existing output needs --force; --force replaces it", async () => {
		const out = path.join(root, "existing");
		await mkdir(out);
		await writeFile(path.join(out, "keep.txt"), "mine");
		expect(expectFailure(await cli(...SLERP, "--out", out), 1)).toContain("--force");
		expect(await readdir(out)).toEqual(["keep.txt"]);
		const forced = await cli(...SLERP, "--out", out, "--force");
		expect(errorLines(forced.stderr)).toEqual([]);
		expect(forced.exitCode).toBe(0);
		const files = await readdir(out);
		expect(files).toContain("model.safetensors");
		expect(files).not.toContain("keep.txt");
		expect(await readFile(path.join(out, "merge-recipe.yml"), "utf8")).toContain("merge_method: slerp");
	});
});

describe("usage errors exit 2", () => {
	test("an unknown flag is refused before anything runs", async () => {
		const out = path.join(root, "unknown-flag");
		expect(expectFailure(await cli(...SLERP, "--bogus", "--out", out), 2)).toContain("bogus");
		expect(existsSync(out)).toBe(false);
	});

	test("slerp without --b", async () => {
		expect(expectFailure(await cli("slerp", "--a", "biomistral", "--t", "0.5"), 2)).toContain("--b");
	});

	test("a flag value that is not a number", async () => {
		expect(expectFailure(await cli("slerp", "--a", "biomistral", "--b", "mistral", "--t", "half"), 2)).toContain("--t");
	});

	test("no command, and an unknown command", async () => {
		expectFailure(await cli(), 2);
		expect(expectFailure(await cli("frobnicate"), 2)).toContain("frobnicate");
	});

	test("a bad --dtype", async () => {
		expect(expectFailure(await cli(...SLERP, "--dtype", "float8"), 2)).toContain("float8");
	});
});

test("--debug adds the stack trace to the error line", async () => {
	const r = await cli("slerp", "--a", CLI_MODELS.base.replace("v0.1", "v9"), "--b", "mistral", "--t", "0.5", "--debug");
	expect(r.exitCode).toBe(1);
	expect(errorLines(r.stderr)).toHaveLength(1);
	expect(hasStackTrace(r.stderr)).toBe(true);
});
