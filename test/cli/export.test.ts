/** `merge export`, `merge inspect x.gguf` and `--gguf` on merges, through the real CLI. */
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openGguf } from "../../src/index.js";
import { CLI_MODELS, errorLines, hasStackTrace, runCli, writeCliModels } from "../helpers/cli.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

let root: string;
let work: string;
let env: Record<string, string>;

beforeAll(async () => {
	root = await mkdtemp(path.join(tmpdir(), "lm-merge-cli-export-"));
	work = path.join(root, "work");
	await mkdir(work, { recursive: true });
	env = { HF_HUB_CACHE: path.join(root, "hf-cache") };
	await writeCliModels(env.HF_HUB_CACHE!);
});

afterAll(async () => {
	await rm(root, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args, { cwd: work, env });

describe("merge export", () => {
	test("several types from a Hugging Face cache id → one <model>-<type>.gguf each in --out; inspect lists them", async () => {
		const r = await cli("export", CLI_MODELS.bio, "--type", "f16,q8_0", "--out", "gguf");
		expect(r.exitCode, r.stderr).toBe(0);
		expect((await readdir(path.join(work, "gguf"))).sort()).toEqual(["BioMistral-7B-f16.gguf", "BioMistral-7B-q8_0.gguf"]);
		expect(
			r.stdout
				.trim()
				.split("\n")
				.map((l) => path.basename(l.split("\t")[0]!)),
		).toEqual(["BioMistral-7B-f16.gguf", "BioMistral-7B-q8_0.gguf"]);
		expect(r.stderr).toContain("exporting 21 tensors");
		const g = await openGguf(path.join(work, "gguf", "BioMistral-7B-q8_0.gguf"));
		expect(g.metadata.get("general.name")).toEqual({ kind: "string", value: CLI_MODELS.bio });
		await g.close();

		const ins = await cli("inspect", "gguf/BioMistral-7B-q8_0.gguf");
		expect(ins.exitCode, ins.stderr).toBe(0);
		expect(ins.stdout).toMatch(/^GGUF v3, \d+ metadata keys, 21 tensors/);
		expect(ins.stdout).toContain("general.architecture");
		// Rows of 16 values are not whole 32-value Q8_0 blocks: those matrices fall back to F16, with a warning.
		expect(ins.stdout).toMatch(/blk\.1\.attn_q\.weight\s+F16\s+\[16, 16\]/);
		expect(r.stderr).toMatch(/warning: .*written as F16/);
		const json = JSON.parse((await cli("inspect", "gguf/BioMistral-7B-f16.gguf", "--json")).stdout) as {
			format: string;
			tensors: unknown[];
			metadata: Record<string, unknown>;
		};
		expect(json.format).toBe("gguf");
		expect(json.tensors).toHaveLength(21);
		expect(json.metadata["llama.block_count"]).toBe(2);
	});

	test("an alias and --out FILE.gguf for one type; an existing file needs --force", async () => {
		const first = await cli("export", "biomistral", "--type", "q4_0", "--out", "one.gguf", "--quiet");
		expect(first.exitCode, first.stderr).toBe(0);
		expect(first.stderr).not.toContain("exporting");
		const again = await cli("export", "biomistral", "--type", "q4_0", "--out", "one.gguf");
		expect(again.exitCode).toBe(1);
		expect(errorLines(again.stderr)).toEqual([expect.stringContaining("use --force")]);
		const forced = await cli("export", "biomistral", "--type", "q4_0", "--out", "one.gguf", "--force", "--json");
		expect(forced.exitCode, forced.stderr).toBe(0);
		expect(JSON.parse(forced.stdout).exports[0]).toMatchObject({ type: "q4_0", tensors: 21 });
	});

	test("a k-quant export runs on the worker pool from the CLI (rows of 256: no fallback) and completes", async () => {
		await writeTinyMistral(path.join(work, "wide"), { seed: 9, hidden: 256, intermediate: 512, layers: 1 });
		const r = await cli("export", "wide", "--type", "q4_k_m", "--threads", "2", "--out", "wide.gguf");
		expect(r.exitCode, r.stderr).toBe(0);
		const g = await openGguf(path.join(work, "wide.gguf"));
		expect(new Set(g.tensors.map((t) => t.type))).toEqual(new Set(["Q4_K", "Q6_K", "F32"]));
		await g.close();
	});

	test("usage errors exit 2: an unknown type, several types into one .gguf file", async () => {
		for (const args of [
			["--type", "q3_k"],
			["--type", "f16,q8_0", "--out", "x.gguf"],
		]) {
			const r = await cli("export", "biomistral", ...args);
			expect(r.exitCode, args.join(" ")).toBe(2);
			expect(errorLines(r.stderr)).toHaveLength(1);
		}
	});

	test("a missing model and a bad GGUF are one-line runtime errors (exit 1), no stack trace", async () => {
		const missing = await cli("export", "nowhere/none", "--type", "f16");
		expect(missing.exitCode).toBe(1);
		await writeFile(path.join(work, "bad.gguf"), "GGUF\x03\x00\x00\x00");
		const bad = await cli("inspect", "bad.gguf");
		expect(bad.exitCode).toBe(1);
		expect(errorLines(bad.stderr)).toEqual([expect.stringContaining("bad.gguf")]);
		expect(hasStackTrace(bad.stderr)).toBe(false);
	});
});

describe("--gguf on merges", () => {
	test("merge slerp --gguf q8_0 writes <out>/<name>-q8_0.gguf after the safetensors", async () => {
		const r = await cli("slerp", "--a", "mistral", "--b", "biomistral", "--t", "0.5", "--out", "slerp-out", "--gguf", "q8_0");
		expect(r.exitCode, r.stderr).toBe(0);
		expect(await readdir(path.join(work, "slerp-out"))).toContain("slerp-out-q8_0.gguf");
		expect(r.stdout.trim().split("\n").at(-1)).toBe(path.join(work, "slerp-out", "slerp-out-q8_0.gguf"));
	});

	test("a bad --gguf type is refused before the merge runs", async () => {
		const r = await cli("slerp", "--a", "mistral", "--b", "biomistral", "--t", "0.5", "--out", "never", "--gguf", "q2_k");
		expect(r.exitCode).toBe(2);
		expect(await readdir(work)).not.toContain("never");
	});
});
