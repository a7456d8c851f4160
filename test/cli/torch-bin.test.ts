/** The CLI on PyTorch `.bin` inputs: convert, inspect, a quick merge, and the one-line refusal of a hostile pickle. */
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { openModel } from "../../src/index.js";
import { errorLines, hasStackTrace, REPO_ROOT, runCli } from "../helpers/cli.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const FIXTURES = path.join(REPO_ROOT, "test", "fixtures", "torch-bin");
let work: string;
const cli = (...args: string[]) => runCli(args, { cwd: work });

beforeAll(async () => {
	work = await mkdtemp(path.join(tmpdir(), "lm-merge-cli-bin-"));
	await mkdir(work, { recursive: true });
});
afterAll(async () => {
	await rm(work, { recursive: true, force: true });
});

test("merge convert writes safetensors from a .bin folder and prints a JSON summary", async () => {
	const r = await cli("convert", path.join(FIXTURES, "tiny-mistral"), "--out", "conv", "--json");
	expect(r.stderr).toBe("");
	expect(r.exitCode).toBe(0);
	const summary = JSON.parse(r.stdout) as { tensors: number; files: string[]; out: string };
	expect(summary.tensors).toBe(21);
	expect(summary.files).toEqual(["model.safetensors", "config.json"]);
	const m = await openModel(path.join(work, "conv"));
	expect(m.files.map((f) => path.basename(f))).toEqual(["model.safetensors"]);
	await m.close();
});

test("a pickle that would run os.system is refused with one error line, exit 1, and nothing runs", async () => {
	rmSync("/tmp/lm-merge-pwned", { force: true });
	for (const args of [
		["convert", path.join(FIXTURES, "hostile", "os-system.bin"), "--out", "evil"],
		["inspect", path.join(FIXTURES, "hostile", "builtins-eval.bin")],
	]) {
		const r = await cli(...args);
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toHaveLength(1);
		expect(r.stderr.trim().split("\n")).toHaveLength(1);
		expect(r.stderr).toMatch(
			/^error: .*hostile\/(os-system|builtins-eval)\.bin: archive\/data\.pkl: refused global (posix\.system|__builtin__\.eval)/,
		);
		expect(hasStackTrace(r.stderr)).toBe(false);
	}
	expect(existsSync(path.join(work, "evil"))).toBe(false);
	expect(existsSync("/tmp/lm-merge-pwned")).toBe(false);
});

test("merge inspect lists a legacy-format .bin model", async () => {
	const r = await cli("inspect", path.join(FIXTURES, "tiny-mistral-legacy"));
	expect(r.exitCode).toBe(0);
	expect(r.stdout).toMatch(/model\.embed_tokens\.weight\s+BF16\s+\[64, 16\]/);
});

test("a quick merge takes a .bin model like any other", async () => {
	const other = path.join(work, "other");
	await writeTinyMistral(other, { seed: 9, layers: 2, hidden: 16, intermediate: 32, heads: 4, kvHeads: 2, vocab: 64, tokenizer: false });
	const r = await cli(
		"slerp",
		"--a",
		path.join(FIXTURES, "tiny-mistral-sharded"),
		"--b",
		other,
		"--t",
		"0.5",
		"--out",
		"slerped",
		"--quiet",
	);
	// Only the warning that these tokenizer-less test models get.
	expect(r.stderr.split("\n").filter((l) => l !== "" && !l.includes("has no tokenizer"))).toEqual([]);
	expect(r.exitCode).toBe(0);
	expect(existsSync(path.join(work, "slerped", "model.safetensors"))).toBe(true);
});
