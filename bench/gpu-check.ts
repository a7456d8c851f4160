/**
 * GPU check for the llama backend, for machines that have one (the development machine has none, so this has
 * not run on a GPU here). Scores the same prompts with `merge eval --backend llama` on the CPU in exact mode
 * (f32) and on each GPU device and weight format asked for, through the compiled CLI as users run it, and prints
 * what ran, tokens/s and the letter-probability deviation from the exact CPU run.
 *
 *   bash bench/gpu-check.sh [--model DIR] [--devices cuda,vulkan] [--quant f32,q8_0] [--limit 8] [--threads N]
 *
 * Without --model a ~125M-parameter Mistral-shaped bf16 checkpoint is generated (random weights, tiny tokenizer).
 * The CUDA/Vulkan binaries are separate packages: see docs/gguf.md ("Installing llama.cpp's binaries").
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { EvalReport } from "../src/eval/types.js";
import { letterDeviation } from "../src/eval/variants.js";
import { tinyTokenizerFiles } from "../src/fixtures/tiny-tokenizer.js";
import { SHAPE_125M, writeBenchModel } from "./eval-bench.js";

const REPO = join(fileURLToPath(import.meta.url), "..", "..");
const DATA = join(REPO, "examples", "data");

const { values } = parseArgs({
	options: {
		model: { type: "string" },
		devices: { type: "string", default: "cuda,vulkan" },
		quant: { type: "string", default: "f32,q8_0" },
		limit: { type: "string", default: "8" },
		threads: { type: "string" },
		keep: { type: "boolean" },
	},
});

/** One `merge eval` run writing its report to `json`; undefined, or the error line it printed. */
function evalRun(model: string, cache: string, json: string, extra: string[]): string | undefined {
	const args = [join(REPO, "bin", "merge.js"), "eval", model, "--backend", "llama", "--gguf-cache", cache, "--json", json, "--quiet"];
	args.push(
		"--data",
		join(DATA, "medqa-sample.jsonl"),
		"--shots-from",
		join(DATA, "medqa-sample-train.jsonl"),
		"--seeds",
		"1",
		"--limit",
		values.limit!,
		...extra,
	);
	if (values.threads !== undefined) args.push("--threads", values.threads);
	const r = spawnSync(process.execPath, args, { encoding: "utf8" });
	if (r.status !== 0) return (r.stderr.split("\n").find((l) => l.startsWith("error:")) ?? `exit ${r.status}`).trim();
	return undefined;
}

async function main(): Promise<void> {
	const root = await mkdtemp(join(tmpdir(), "lm-merge-gpu-check-"));
	try {
		let model = values.model;
		if (model === undefined) {
			model = join(root, "mistral-125m");
			await writeBenchModel(model, SHAPE_125M);
			for (const [name, v] of Object.entries(tinyTokenizerFiles(SHAPE_125M.vocab))) await writeFile(join(model, name), JSON.stringify(v));
			console.log(`generated ${model} (~125M parameters, bf16, random weights)`);
		}
		const cache = join(root, "gguf-cache");
		const load = async (extra: string[], name: string): Promise<EvalReport | string> => {
			const json = join(root, `${name}.json`);
			const failed = evalRun(model!, cache, json, extra);
			return failed ?? (JSON.parse(await readFile(json, "utf8")) as EvalReport);
		};
		const exact = await load(["--device", "cpu", "--quant", "f32"], "cpu-f32");
		if (typeof exact === "string") throw new Error(`the exact CPU run failed: ${exact}`);
		const rows: string[][] = [["cpu", "f32", exact.device, exact.runs[0]!.timings.tokens_per_second.toFixed(0), "reference", "–"]];
		for (const device of values.devices!.split(",")) {
			for (const quant of values.quant!.split(",")) {
				const r = await load(["--device", device, "--quant", quant], `${device}-${quant}`);
				if (typeof r === "string") {
					rows.push([device, quant, "failed", "–", r, "–"]);
					continue;
				}
				const dev = letterDeviation(r, exact);
				rows.push([
					device,
					quant,
					`${r.device} (${r.runs[0]!.detail})`,
					r.runs[0]!.timings.tokens_per_second.toFixed(0),
					dev.max_abs.toExponential(2),
					`${(100 * dev.same_argmax).toFixed(0)}%`,
				]);
			}
		}
		console.log(`\n${exact.progress.scored} prompts, letter probabilities against the exact CPU run:\n`);
		const header = ["device asked", "quant", "ran on", "tokens/s", "max |Δp|", "same top letter"];
		for (const row of [header, ...rows]) console.log(row.join(" | "));
	} finally {
		if (values.keep === true) console.log(`kept ${root}`);
		else await rm(root, { recursive: true, force: true });
	}
}

main().catch((err: unknown) => {
	console.error(`error: ${(err as Error).message}`);
	process.exitCode = 1;
});
