/** The CLI with LoRA: a quick merge of model+adapter, a recipe with model+adapter, and extract-lora's report. */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { errorLines, hasStackTrace, runCli } from "../helpers/cli.js";
import { loraNames, randn, writeAdapter } from "../helpers/lora.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const SHAPE = { layers: 2, hidden: 16, intermediate: 32, heads: 4, kvHeads: 2, vocab: 64, tokenizer: false } as const;
let work: string;
const cli = (...args: string[]) => runCli(args, { cwd: work });

beforeAll(async () => {
	work = await mkdtemp(path.join(tmpdir(), "lm-merge-cli-lora-"));
	await writeTinyMistral(path.join(work, "base"), { ...SHAPE, seed: 1 });
	await writeTinyMistral(path.join(work, "tuned"), { ...SHAPE, seed: 2, base: path.join(work, "base"), delta: 0.01 });
	const q = "model.layers.0.self_attn.q_proj";
	await writeAdapter(path.join(work, "lora"), { r: 2, lora_alpha: 4 }, [
		{ name: loraNames(q).a, shape: [2, 16], data: randn("a", 32) },
		{ name: loraNames(q).b, shape: [16, 2], data: randn("b", 32) },
	]);
});
afterAll(async () => {
	await rm(work, { recursive: true, force: true });
});

test("quick commands and recipes accept model+adapter", async () => {
	const quick = await cli("linear", "--models", "base+lora", "tuned", "--weight", "1", "1", "--out", "q", "--quiet");
	// Only the warning that these tokenizer-less test models get.
	expect(quick.stderr.split("\n").filter((l) => l !== "" && !l.includes("has no tokenizer"))).toEqual([]);
	expect(quick.exitCode).toBe(0);
	await writeFile(
		path.join(work, "r.yml"),
		"merge_method: slerp\nbase_model: tuned\nmodels:\n  - model: base+lora\nparameters: {t: 0.5}\n",
	);
	const run = await cli("run", "r.yml", "--out", "r", "--quiet");
	expect(run.exitCode).toBe(0);
	expect(existsSync(path.join(work, "r", "model.safetensors"))).toBe(true);
	const bad = await cli("linear", "--models", "base+nolora", "tuned", "--weight", "1", "1", "--out", "bad");
	expect(bad.exitCode).toBe(1);
	expect(errorLines(bad.stderr)).toEqual([expect.stringContaining("nolora")]);
	expect(hasStackTrace(bad.stderr)).toBe(false);
});

test("extract-lora prints each module's relative error and a summary; --json gives them as data", async () => {
	const r = await cli("extract-lora", "--base", "base", "--model", "tuned", "--rank", "4", "--out", "x");
	expect(r.exitCode).toBe(0);
	expect(r.stdout.trim()).toBe("x");
	expect(r.stderr).toMatch(/^extracting 16 weight\(s\) at rank 4 → x$/m);
	expect(r.stderr).toMatch(/^\[2\/16\] model\.layers\.0\.self_attn\.q_proj {2}rank 4 {2}relative error 0\.\d{4}$/m);
	expect(r.stderr).toMatch(/^warning: model\.norm\.weight: changed, but not a 2-D weight/m);
	expect(r.stderr).toMatch(
		new RegExp(
			/^extracted 16 module\(s\) at rank 4 in [\d.]+ s: relative error mean 0\.\d{4}, /.source +
				/max 0\.\d{4} \(.+\); \d+ changed tensor\(s\) not captured/.source,
			"m",
		),
	);
	const j = await cli("extract-lora", "--base", "base", "--model", "tuned", "--rank", "4", "--out", "x", "--force", "--json");
	expect(j.exitCode).toBe(0);
	const result = JSON.parse(j.stdout) as { modules: Array<{ module: string; error: number }>; meanError: number };
	expect(result.modules).toHaveLength(16);
	expect(result.meanError).toBeGreaterThan(0);
	const usage = await cli("extract-lora", "--base", "base", "--model", "tuned", "--rank", "0", "--out", "y");
	expect(usage.exitCode).toBe(2);
});
