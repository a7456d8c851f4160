import { spawn } from "node:child_process";
import { cp, mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { cleanEnv, collect, errorLines, hasStackTrace, REPO_ROOT, runCli } from "../helpers/cli.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const dir = useTempDir("lm-merge-cli-eval-llama-");
let model: string;
const data = path.join(REPO_ROOT, "examples", "data", "medqa-sample.jsonl");
/** One llama.cpp thread: its workers spin at barriers, so two threads crawl on a loaded 2-core machine. */
const ARGS = ["--data", data, "--shots", "0", "--limit", "3", "--seeds", "1", "--threads", "1", "--device", "cpu"];

beforeAll(async () => {
	model = path.join(dir(), "tiny-merge");
	await writeTinyMistral(model, { layers: 2, hidden: 64, intermediate: 128, heads: 4, kvHeads: 2, vocab: 96, seed: 8, initStd: 0.1 });
});

describe("merge eval --backend llama", () => {
	test("converts into the GGUF cache under ~/.cache/lm-merge and says what ran in the report", async () => {
		const r = await runCli(["eval", model, ...ARGS, "--backend", "llama", "--json"], { cwd: dir() });
		expect(r.exitCode, r.stderr).toBe(0);
		const report = JSON.parse(r.stdout);
		expect([report.backend, report.device, report.quant]).toEqual(["llama", "cpu", "f32"]);
		expect(report.runs[0].detail).toContain("exact mode");
		expect(report.runs[0].weights).toContain(path.join(dir(), ".home", ".cache", "lm-merge", "gguf"));
		expect(report.runs[0].timings.tokens_per_second).toBeGreaterThan(0);
		expect(report.items).toHaveLength(3);
		expect(r.stderr).toContain("converting tiny-merge to GGUF f32");
		// the second run finds the file in the cache
		const again = await runCli(["eval", model, ...ARGS, "--backend", "llama", "--quiet"], { cwd: dir() });
		expect(again.exitCode, again.stderr).toBe(0);
		expect(again.stderr).not.toContain("converting");
	}, 120_000);

	test("--quant f32,q8_0: one row per weight format with size, tokens/s and deviation from the exact run", async () => {
		const json = path.join(dir(), "variants.json");
		const r = await runCli(["eval", model, ...ARGS, "--quant", "f32,q8_0", "--json", json, "--quiet"], { cwd: dir() });
		expect(r.exitCode, r.stderr).toBe(0);
		const table = r.stdout.slice(r.stdout.indexOf("weight formats side by side"));
		expect(table).toMatch(/\| Variant \| MedQA \| ECE \| File \| tok\/s \| max \\\|Δp\\\| \| mean \\\|Δp\\\| \| same top letter \|/);
		expect(table).toMatch(/\| f32 \(exact\) \| [\d.]+ \| [\d.]+ \| [\d.]+ [KM]B \| \d+ \| – \| – \| – \|/);
		expect(table).toMatch(/\| q8_0 \| [\d.]+ \| [\d.]+ \| [\d.]+ [KM]B \| \d+ \| [\d.]+e-\d+ \| [\d.]+e-\d+ \| [\d.]+% \|/);
		const reports = JSON.parse(await readFile(json, "utf8"));
		expect(reports.map((x: { quant: string }) => x.quant)).toEqual(["f32", "q8_0"]);
		expect(reports[0].deviation_from_exact).toBeUndefined();
		expect(reports[1].deviation_from_exact.prompts).toBe(3);
		expect(reports[1].deviation_from_exact.max_abs).toBeGreaterThan(0);
		expect(reports[1].deviation_from_exact.max_abs).toBeLessThan(0.05);
		expect(reports[1].runs[0].weight_bytes).toBeLessThan(reports[0].runs[0].weight_bytes / 2);
	}, 180_000);

	test("a bad .gguf is one error line (exit 1); flags that do not fit the backend are usage errors; --device wasm still works", async () => {
		const bad = path.join(dir(), "broken.gguf");
		await writeFile(bad, Buffer.from("GGUF\x03\x00\x00\x00 truncated"));
		const r = await runCli(["eval", bad, "--tokenizer", model, ...ARGS, "--backend", "llama"], { cwd: dir() });
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toHaveLength(1);
		expect(errorLines(r.stderr)[0]).toContain("broken.gguf");
		expect(hasStackTrace(r.stderr)).toBe(false);
		const q = await runCli(["eval", model, ...ARGS, "--backend", "tfjs", "--quant", "q8_0"], { cwd: dir() });
		expect(q.exitCode).toBe(2);
		const noDevice = ARGS.filter((a) => a !== "cpu" && a !== "--device");
		const v = await runCli(["eval", model, ...noDevice, "--device", "vulkan"], { cwd: dir() });
		expect(v.exitCode).toBe(2);
		expect(errorLines(v.stderr)[0]).toContain("tfjs has no Vulkan backend; use --backend llama");
		const c = await runCli(["eval", model, ...noDevice, "--backend", "tfjs-cpu", "--cuda"], { cwd: dir() });
		expect(c.exitCode).toBe(2);
		// the old tfjs spelling still works, with a notice
		const w = await runCli(["eval", model, ...noDevice, "--device", "wasm", "--json"], { cwd: dir() });
		expect(w.exitCode, w.stderr).toBe(0);
		expect(w.stderr).toContain("warning: --device wasm is deprecated: use --backend tfjs-wasm");
		expect(JSON.parse(w.stdout).runs[0].detail).toMatch(/^tfjs wasm/);
	}, 60_000);
});

describe("without node-llama-cpp installed", () => {
	/** A copy of the package whose node_modules holds everything but node-llama-cpp (links to the real ones). */
	async function installWithoutLlama(): Promise<string> {
		const root = path.join(dir(), "no-llama");
		await mkdir(path.join(root, "node_modules"), { recursive: true });
		for (const name of ["bin", "dist", "package.json"]) await cp(path.join(REPO_ROOT, name), path.join(root, name), { recursive: true });
		for (const name of await readdir(path.join(REPO_ROOT, "node_modules"))) {
			if (name === "node-llama-cpp" || name === "@node-llama-cpp" || name === ".bin") continue;
			await symlink(path.join(REPO_ROOT, "node_modules", name), path.join(root, "node_modules", name));
		}
		return root;
	}

	test("--backend llama is one error line saying how to install it; the tfjs backend still works", async () => {
		const root = await installWithoutLlama();
		const run = async (args: string[]) => {
			const child = spawn(process.execPath, [path.join(root, "bin", "merge.js"), ...args], {
				cwd: dir(),
				env: cleanEnv(dir()),
				stdio: "pipe",
			});
			child.stdin.end();
			return collect(child);
		};
		const r = await run(["eval", model, ...ARGS, "--backend", "llama"]);
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toEqual([
			"error: the llama backend needs node-llama-cpp, which is not installed: npm install --save-exact node-llama-cpp@3.21.1",
		]);
		expect(hasStackTrace(r.stderr)).toBe(false);
		const t = await run(["eval", model, ...ARGS, "--quiet"]);
		expect(t.exitCode, t.stderr).toBe(0);
		expect(t.stdout).toContain("| tiny-merge |");
	}, 120_000);
});
