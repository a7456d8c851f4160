/**
 * llama.cpp evaluation backend benchmark (issue 13's targets), all measured side by side in one run:
 * - prefill of a 512-token prompt on a ~125M Mistral-shaped bf16 checkpoint, 2 threads: llama.cpp q8_0 (flash
 *   attention, F16 KV cache), llama.cpp f32 (the exact mode), lm-merge's tfjs forward on wasm, and a PyTorch
 *   float32 reference forward (bench/torch_prefill.py) when python3 has torch. Rounds interleave the four so
 *   background load hits them alike; ratios are taken per round (median, range). Targets: q8_0 ≥ 1.0× torch
 *   and ≥ 5× tfjs-wasm; exact ≥ 2.5× tfjs-wasm.
 * - exact-mode agreement on the same checkpoint: max |Δ log p| over the whole vocabulary between llama.cpp f32
 *   and tfjs on three prompts (target ≤ 1e-4, same arg-max), and the letter probabilities of an evaluate() run.
 * - with --llama-7b, a 32-layer 7B-shaped bf16 model exported to q8_0 and scored on one 3-shot prompt in a
 *   child process (bench/llama-7b.ts): export seconds, file size, peak RSS (goal ≤ 9 GB), prefill tokens/s.
 *
 *   npx tsx bench/llama-bench.ts [--tokens 512] [--threads 2] [--repeat 5] [--llama-7b] [--dir DIR] [--keep]
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { loadLlamaBackend } from "../src/eval/backends/llama.js";
import type { ForwardBackend } from "../src/eval/backends/types.js";
import { loadEvalModel } from "../src/eval/eval-model.js";
import { evaluate } from "../src/eval/evaluate.js";
import { letterDeviation } from "../src/eval/variants.js";
import { tinyTokenizerFiles } from "../src/fixtures/tiny-tokenizer.js";
import { exportGguf } from "../src/gguf/export.js";
import { SHAPE_125M, writeBenchModel } from "./eval-bench.js";
import { run7b } from "./llama-7b.js";

export interface LlamaBenchOptions {
	tokens?: number;
	threads?: number;
	repeat?: number;
	llama7b?: boolean;
	dir?: string;
	keep?: boolean;
	log?: (line: string) => void;
}

const REPO = join(fileURLToPath(import.meta.url), "..", "..");

/** Deterministic token ids in [3, vocab), shifted by `offset` (a new first token defeats llama.cpp's prefix reuse). */
export function benchPrompt(n: number, vocab: number, offset = 0): number[] {
	return Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + 17 + (i === 0 ? offset : 0)) % (vocab - 3)));
}

/** The first python3 with torch: PATH's, else Debian's (python3-torch installs into /usr/bin/python3). */
function torchPython(): string | undefined {
	for (const py of ["python3", "/usr/bin/python3"]) {
		try {
			execFileSync(py, ["-c", "import torch"], { stdio: "ignore" });
			return py;
		} catch {
			// next
		}
	}
	return undefined;
}

/** The PyTorch reference as a long-lived child: `prefill(n)` resolves to its seconds. */
async function startTorch(py: string, model: string, threads: number): Promise<{ prefill(n: number): Promise<number>; stop(): void }> {
	const child = spawn(py, [join(REPO, "bench", "torch_prefill.py"), model, String(threads)], { stdio: ["pipe", "pipe", "inherit"] });
	const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
	const next = async (): Promise<string> => {
		const r = await lines.next();
		if (r.done === true) throw new Error("the PyTorch reference exited early");
		return r.value;
	};
	if ((await next()) !== "ready") throw new Error("the PyTorch reference did not start");
	return {
		async prefill(n) {
			child.stdin.write(`prefill ${n}\n`);
			return Number((await next()).split(" ")[1]);
		},
		stop: () => child.stdin.end("quit\n"),
	};
}

async function timeLlama(b: ForwardBackend, tokens: number[]): Promise<number> {
	const t0 = performance.now();
	await b.logprobs([{ tokens, positions: [tokens.length - 1] }], { onResult: () => {} });
	return (performance.now() - t0) / 1000;
}

function stats(xs: number[]): string {
	const s = [...xs].sort((a, b) => a - b);
	const med = s.length % 2 === 1 ? s[s.length >> 1]! : (s[(s.length >> 1) - 1]! + s[s.length >> 1]!) / 2;
	return `${med.toFixed(2)} (${s[0]!.toFixed(2)}–${s.at(-1)!.toFixed(2)})`;
}

/** Runs the benchmark; prints through `log`. */
export async function runLlamaBench(opts: LlamaBenchOptions = {}): Promise<void> {
	const log = opts.log ?? ((line: string) => console.log(line));
	const T = opts.tokens ?? 512;
	const threads = opts.threads ?? 2;
	const repeat = opts.repeat ?? 5;
	const s = SHAPE_125M;
	const root = await mkdtemp(join(opts.dir ?? tmpdir(), "lm-merge-llama-bench-"));
	try {
		const dir = join(root, "mistral-125m");
		await writeBenchModel(dir, s);
		for (const [name, value] of Object.entries(tinyTokenizerFiles(s.vocab))) await writeFile(join(dir, name), JSON.stringify(value));
		const ggufs: Record<string, string> = {};
		for (const type of ["f32", "q8_0"] as const) {
			const r = await exportGguf(dir, { type, out: join(root, `m-${type}.gguf`) });
			ggufs[type] = r.out;
			log(`exported ${type}: ${(r.bytes / 1e6).toFixed(0)} MB in ${r.seconds.toFixed(1)} s`);
		}
		const tfjs = await loadEvalModel(dir, { device: "wasm", streaming: false });
		const exact = await loadLlamaBackend(ggufs.f32!, { device: "cpu", threads });
		const q8 = await loadLlamaBackend(ggufs.q8_0!, { device: "cpu", threads });
		const py = torchPython();
		const torch = py !== undefined ? await startTorch(py, dir, threads) : undefined;
		if (torch === undefined) log("PyTorch: not found (apt-get install python3-torch libopenblas0-pthread); its column is skipped");
		try {
			log(`prefill of ${T} tokens, ${threads} threads, ${repeat} interleaved rounds (tokens/s: median (range)):`);
			await tfjs.lastLogits([benchPrompt(64, s.vocab)]);
			await timeLlama(exact, benchPrompt(64, s.vocab, 1));
			await timeLlama(q8, benchPrompt(64, s.vocab, 1));
			const tps: Record<string, number[]> = { "llama.cpp q8_0": [], "llama.cpp f32 (exact)": [], "tfjs-wasm": [], "PyTorch f32": [] };
			for (let r = 0; r < repeat; r++) {
				const t0 = performance.now();
				await tfjs.lastLogits([benchPrompt(T, s.vocab)]);
				tps["tfjs-wasm"]!.push(T / ((performance.now() - t0) / 1000));
				tps["llama.cpp f32 (exact)"]!.push(T / (await timeLlama(exact, benchPrompt(T, s.vocab, 2 + r))));
				tps["llama.cpp q8_0"]!.push(T / (await timeLlama(q8, benchPrompt(T, s.vocab, 2 + r))));
				if (torch !== undefined) tps["PyTorch f32"]!.push(T / (await torch.prefill(T)));
			}
			for (const [name, xs] of Object.entries(tps)) if (xs.length > 0) log(`  ${name.padEnd(22)} ${stats(xs)} tokens/s`);
			const ratio = (a: string, b: string): number[] => tps[a]!.map((x, i) => x / tps[b]![i]!);
			log(`  q8_0 / tfjs-wasm      ${stats(ratio("llama.cpp q8_0", "tfjs-wasm"))}× (target ≥ 5)`);
			log(`  exact / tfjs-wasm     ${stats(ratio("llama.cpp f32 (exact)", "tfjs-wasm"))}× (target ≥ 2.5)`);
			if (torch !== undefined) {
				log(`  q8_0 / PyTorch f32    ${stats(ratio("llama.cpp q8_0", "PyTorch f32"))}× (target ≥ 1.0)`);
				log(`  exact / PyTorch f32   ${stats(ratio("llama.cpp f32 (exact)", "PyTorch f32"))}×`);
				log(`  tfjs-wasm / PyTorch   ${stats(ratio("tfjs-wasm", "PyTorch f32"))}×`);
			}

			// exact mode: the whole vocabulary, three prompts
			let worst = 0;
			let sameTop = true;
			for (const n of [64, 256, T]) {
				const p = benchPrompt(n, s.vocab, 100 + n);
				const [want] = await tfjs.lastLogits([p]);
				const rows: Float32Array[] = [];
				await exact.logprobs([{ tokens: p, positions: [n - 1] }], { onResult: (_i, r) => rows.push(r[0]!) });
				const got = rows[0]!;
				let max = -Infinity;
				for (const v of want!) max = Math.max(max, v);
				let sum = 0;
				for (const v of want!) sum += Math.exp(v - max);
				const lse = max + Math.log(sum);
				let topW = 0;
				let topG = 0;
				for (let v = 0; v < got.length; v++) {
					worst = Math.max(worst, Math.abs(got[v]! - (want![v]! - lse)));
					if (want![v]! > want![topW]!) topW = v;
					if (got[v]! > got[topG]!) topG = v;
				}
				sameTop &&= topW === topG;
			}
			log(
				`exact mode vs tfjs-wasm, 3 prompts × ${s.vocab} tokens: max |Δ log p| ${worst.toExponential(2)} (target ≤ 1e-4), ` +
					`same arg-max: ${sameTop}`,
			);
		} finally {
			torch?.stop();
			await tfjs.dispose();
			await exact.dispose();
			await q8.dispose();
		}
		const data = join(REPO, "examples", "data", "medqa-sample.jsonl");
		const base = { models: [dir], data, shots: 0, seeds: 1, limit: 4 };
		const a = await evaluate({ ...base, tfjsDevice: "wasm" });
		const b = await evaluate({ ...base, models: [ggufs.f32!], tokenizer: dir, backend: "llama", device: "cpu", threads });
		const dev = letterDeviation(b, a);
		log(
			`report letter probabilities, llama f32 vs tfjs, ${dev.prompts} prompts: ` +
				`max |Δp| ${dev.max_abs.toExponential(2)} (target ≤ 1e-4)`,
		);
		if (opts.llama7b === true) await run7b(root, threads, log);
		for (const f of Object.values(ggufs)) log(`(${f}: ${((await stat(f)).size / 1e6).toFixed(0)} MB)`);
	} finally {
		if (opts.keep) log(`kept ${root}`);
		else await rm(root, { recursive: true, force: true });
	}
}

function flag(args: string[], name: string): string | undefined {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : undefined;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
	const args = process.argv.slice(2);
	runLlamaBench({
		tokens: Number(flag(args, "--tokens") ?? 512),
		threads: Number(flag(args, "--threads") ?? 2),
		repeat: Number(flag(args, "--repeat") ?? 5),
		llama7b: args.includes("--llama-7b"),
		keep: args.includes("--keep"),
		...(flag(args, "--dir") !== undefined ? { dir: flag(args, "--dir")! } : {}),
	}).catch((err: unknown) => {
		console.error(`error: ${(err as Error).message}`);
		process.exitCode = 1;
	});
}
