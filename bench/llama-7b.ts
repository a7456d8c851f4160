/**
 * The 7B case of the llama bench: a 32-layer, Mistral-7B-shaped bf16 checkpoint (random weights, 14.5 GB)
 * exported to q8_0 and scored on one 3-shot BioMistral prompt by llama.cpp, in a child process whose peak RSS
 * is measured (GNU time when installed, else the child's own maxRSS). Reports export seconds, file size, peak
 * RSS (goal ≤ 9 GB) and prefill tokens/s.
 */
import { statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { evaluate } from "../src/eval/evaluate.js";
import { tinyTokenizerFiles } from "../src/fixtures/tiny-tokenizer.js";
import { exportGguf } from "../src/gguf/export.js";
import { SHAPE_7B, writeBenchModel } from "./eval-bench.js";
import { reportSelfRss, runMeasured } from "./rss.js";

/** The 14.5 GB checkpoint, its ~7.7 GB q8_0 GGUF and a margin for everyone else's files. */
const DISK_NEEDED = 28e9;

/** Peak RSS goal of the issue for export + scoring. */
export const RSS_GOAL_7B = 9e9;

const REPO = join(fileURLToPath(import.meta.url), "..", "..");

export async function run7b(root: string, threads: number, log: (line: string) => void): Promise<void> {
	const fs = await statfs(root);
	const free = fs.bavail * fs.bsize;
	if (free < DISK_NEEDED)
		throw new Error(`--llama-7b needs ${(DISK_NEEDED / 1e9).toFixed(0)} GB free in ${root}, found ${(free / 1e9).toFixed(1)} GB`);
	const dir = join(root, "mistral-7b-shaped");
	const t0 = performance.now();
	await writeBenchModel(dir, SHAPE_7B);
	for (const [name, value] of Object.entries(tinyTokenizerFiles(SHAPE_7B.vocab))) await writeFile(join(dir, name), JSON.stringify(value));
	log(`7B: generated ${dir} (14.5 GB bf16) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
	const script = fileURLToPath(import.meta.url);
	const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
	const run = await runMeasured(
		process.execPath,
		[...loader, script, "--child", dir, join(root, "mistral-7b-q8_0.gguf"), String(threads)],
		{ cwd: REPO },
	);
	if (run.exitCode !== 0) throw new Error(`7B child failed (exit ${run.exitCode}): ${run.stderr.trim().split("\n").pop() ?? ""}`);
	const r = JSON.parse(run.stdout.trim().split("\n").pop()!) as {
		exportSeconds: number;
		bytes: number;
		tokens: number;
		scoreSeconds: number;
		loadSeconds: number;
	};
	const rss =
		run.peakRssBytes !== undefined
			? `${(run.peakRssBytes / 1e9).toFixed(2)} GB (${run.rssSource}; goal ≤ ${RSS_GOAL_7B / 1e9} GB)`
			: "not measured";
	log(`7B q8_0: export ${r.exportSeconds.toFixed(0)} s, file ${(r.bytes / 1e9).toFixed(2)} GB; load ${r.loadSeconds.toFixed(1)} s`);
	log(
		`7B q8_0: one 3-shot prompt of ${r.tokens} tokens in ${r.scoreSeconds.toFixed(1)} s = ` +
			`${(r.tokens / r.scoreSeconds).toFixed(1)} tokens/s ` +
			`(${threads} threads); peak RSS ${rss}`,
	);
}

/** Child: export, then score one 3-shot prompt; prints one JSON line. */
async function child(dir: string, out: string, threads: number): Promise<void> {
	const exported = await exportGguf(dir, { type: "q8_0", out, force: true });
	const data = join(REPO, "examples", "data");
	const report = await evaluate({
		models: [out],
		tokenizer: dir,
		backend: "llama",
		device: "cpu",
		threads,
		data: join(data, "medqa-sample.jsonl"),
		shotsFrom: join(data, "medqa-sample-train.jsonl"),
		shots: 3,
		seeds: 1,
		limit: 1,
	});
	const run = report.runs[0]!;
	const summary = {
		exportSeconds: exported.seconds,
		bytes: exported.bytes,
		tokens: run.timings.tokens,
		scoreSeconds: run.timings.score_seconds,
		loadSeconds: run.timings.load_seconds,
	};
	process.stdout.write(`${JSON.stringify(summary)}\n`);
	reportSelfRss();
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === "--child") {
	child(process.argv[3]!, process.argv[4]!, Number(process.argv[5])).catch((err: unknown) => {
		console.error(`error: ${(err as Error).message}`);
		process.exitCode = 1;
	});
}
