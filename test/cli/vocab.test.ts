import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect, test } from "vitest";
import { errorLines, hasStackTrace, runCli } from "../helpers/cli.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyArchitecture, writeTinyMistral } from "../helpers/tiny-model.js";
import { baseFiles, chatmlFiles, writeTokenizerFiles } from "../helpers/tokenizers.js";

const root = useTempDir("lm-merge-cli-vocab-");

let written: Promise<{ a: string; b: string }> | undefined;
const pair = () => (written ??= writePair());

async function writePair(): Promise<{ a: string; b: string }> {
	const a = path.join(root(), "a");
	const b = path.join(root(), "chatml");
	await writeTinyMistral(a, { seed: 1, layers: 1, vocab: 64 });
	await writeTokenizerFiles(a, baseFiles());
	await writeTinyMistral(b, { seed: 2, layers: 1, vocab: 66 });
	await writeTokenizerFiles(b, chatmlFiles());
	return { a, b };
}

test("--tokenizer-source union on a quick command: the plan says what the vocabulary becomes; the merge writes it", async () => {
	const { a, b } = await pair();
	const dry = await runCli(["linear", "--models", a, b, "--weight", "1", "--tokenizer-source", "union", "--dry-run"], { cwd: root() });
	expect(dry.exitCode).toBe(0);
	expect(dry.stdout).toContain("arch        mistral");
	expect(dry.stdout).toContain("vocabulary  union: 66 tokens (2 added), 66 embedding rows; tokenizer files rebuilt");
	const out = path.join(root(), "out");
	const run = await runCli(["linear", "--models", a, b, "--weight", "1", "--tokenizer-source", "union", "--out", out], { cwd: root() });
	expect(run.exitCode).toBe(0);
	expect(Object.keys(JSON.parse(await readFile(path.join(out, "tokenizer.json"), "utf8")).model.vocab)).toHaveLength(64);
	expect(JSON.parse(await readFile(path.join(out, "config.json"), "utf8")).vocab_size).toBe(66);
	expect(await readFile(path.join(out, "merge-recipe.yml"), "utf8")).toContain("tokenizer_source: union");
});

test("a token whose source model lacks it: one error line, exit 1, before anything is written", async () => {
	const { a, b } = await pair();
	const recipe = path.join(root(), "bad.yml");
	await writeFile(
		recipe,
		`merge_method: linear\nmodels:\n  - model: ${a}\n    parameters: {weight: 1}\n` +
			`  - model: ${b}\n    parameters: {weight: 1}\ntokenizer:\n  tokens:\n    "<|im_end|>": {source: ${a}}\n`,
	);
	const r = await runCli(["run", recipe, "--out", path.join(root(), "never")], { cwd: root() });
	expect(r.exitCode).toBe(1);
	const lines = errorLines(r.stderr);
	expect(lines).toHaveLength(1);
	expect(lines[0]).toMatch(/^error: tokenizer\.tokens\["<\|im_end\|>"\]: .* has no token "<\|im_end\|>"$/);
	expect(hasStackTrace(r.stderr)).toBe(false);
});

test("merge plan --json names the family and counts the frankenmerge's layers", async () => {
	const g = path.join(root(), "gpt2");
	await writeTinyArchitecture(g, "gpt2", { layers: 2 });
	const recipe = path.join(root(), "franken.yml");
	await writeFile(
		recipe,
		`merge_method: passthrough\nslices:\n  - sources:\n      - model: ${g}\n        layer_range: [0, 2]\n` +
			`  - sources:\n      - model: ${g}\n        layer_range: [1, 2]\n`,
	);
	const r = await runCli(["plan", recipe, "--json"], { cwd: root() });
	expect(r.exitCode).toBe(0);
	const j = JSON.parse(r.stdout) as { architecture: string; layers: number };
	expect(j).toMatchObject({ architecture: "gpt2", layers: 3 });
});
