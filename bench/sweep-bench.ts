/**
 * Sweep benchmark: what the sweep machinery costs on top of the merges and evaluations it runs, and how
 * trials per minute scale from one `merge worker` to two on the same Redis queue.
 *
 *   npx tsx bench/sweep-bench.ts [--repeat 3] [--keep]
 *
 * Overhead: a local sweep (runSweepLocal: sweep file, trial keys, store writes, temporary folders,
 * events) is timed as a whole, and its wall time compared with the merge + eval seconds its trials
 * recorded: the difference is what the sweep adds per trial, measured within one run, so the load of
 * the shared machine scales both sides alike. As a cross-check the same trials are also run as plain
 * mergeModels() + evaluate() calls, alternating with the sweep (noisier: two separate runs). Throughput: one, then two worker processes
 * (the built CLI, `npm run build` first) take the same kind of grid from a redis-server started on a free loopback
 * port; each worker is warmed up on a trial first so the timing excludes process start-up.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeTinyMistral } from "../src/fixtures/tiny-model.js";
import { evaluate, loadSweep, mergeModels, parseRecipe, runSweepLocal, runSweepQueued } from "../src/index.js";
import { ResultsStore } from "../src/sweep/store.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DATA = path.join(ROOT, "examples", "data", "medqa-sample.jsonl");
const SHOTS = path.join(ROOT, "examples", "data", "medqa-sample-train.jsonl");

/** Small enough for a quick run on a shared 2-core machine; a real trial is far longer, so its overhead share far smaller. */
const SHAPE = { layers: 2, hidden: 128, intermediate: 256, heads: 4, kvHeads: 2, vocab: 64 };
const OVERHEAD_TRIALS = [0.2, 0.4, 0.6, 0.8];
const THROUGHPUT_TRIALS = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55];

export interface SweepBenchOptions {
	repeat?: number;
	keep?: boolean;
	dir?: string;
	log?: (line: string) => void;
}

function sweepYaml(ts: readonly number[]): string {
	return (
		`recipe: slerp.yml\ngrid:\n  parameters.t: [${ts.join(", ")}]\neval:\n` +
		`  data: ${DATA}\n  shots-from: ${SHOTS}\n  shots: 1\n  seeds: 2\nmerge:\n  threads: 1\n`
	);
}

async function writeModels(root: string): Promise<void> {
	const a = await writeTinyMistral(path.join(root, "models", "a"), { ...SHAPE, seed: 1, force: true });
	await writeTinyMistral(path.join(root, "models", "b"), { seed: 2, base: a.dir, delta: 0.01, force: true });
	await writeFile(
		path.join(root, "slerp.yml"),
		"merge_method: slerp\nbase_model: models/a\nmodels:\n  - model: models/a\n  - model: models/b\nparameters:\n  t: 0.5\n",
	);
}

/** The trials called directly: merge into a temporary folder, score, delete. */
async function direct(root: string, ts: readonly number[]): Promise<number> {
	const started = performance.now();
	for (const t of ts) {
		const out = path.join(root, `direct-${t}`);
		const recipe = parseRecipe(
			`merge_method: slerp\nbase_model: ${root}/models/a\nmodels:\n` +
				`  - model: ${root}/models/a\n  - model: ${root}/models/b\nparameters:\n  t: ${t}\n`,
		);
		await mergeModels(recipe, { out, threads: 1, force: true });
		await evaluate({ models: [out], data: DATA, shotsFrom: SHOTS, shots: 1, seeds: 2 });
		await rm(out, { recursive: true, force: true });
	}
	return (performance.now() - started) / 1000;
}

/** The same trials as a local sweep into a fresh store: its wall time, and the merge + eval seconds its trials recorded. */
async function swept(root: string, ts: readonly number[], run: number): Promise<{ seconds: number; work: number }> {
	const file = path.join(root, `overhead-${run}.yml`);
	await writeFile(file, sweepYaml(ts));
	const spec = await loadSweep(file);
	const started = performance.now();
	let work = 0;
	for await (const _ of runSweepLocal(spec, { store: path.join(root, `overhead-${run}.sqlite`) })) void _;
	const seconds = (performance.now() - started) / 1000;
	const store = ResultsStore.open(path.join(root, `overhead-${run}.sqlite`), { readonly: true });
	for (const r of store.list()) {
		work += (r.mergeSeconds ?? 0) + (r.evalSeconds ?? 0);
	}
	store.close();
	return { seconds, work };
}

function range(values: readonly number[], digits = 1): string {
	const lo = Math.min(...values);
	const hi = Math.max(...values);
	return lo.toFixed(digits) === hi.toFixed(digits) ? lo.toFixed(digits) : `${lo.toFixed(digits)} … ${hi.toFixed(digits)}`;
}

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = createServer();
		srv.once("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const port = (srv.address() as { port: number }).port;
			srv.close(() => resolve(port));
		});
	});
}

function waitFor(proc: ChildProcessWithoutNullStreams, re: RegExp, ms: number): Promise<void> {
	return new Promise((resolve, reject) => {
		let text = "";
		const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms: ${text.slice(-500)}`)), ms);
		const on = (d: Buffer) => {
			text += d.toString();
			if (re.test(text)) {
				clearTimeout(timer);
				proc.stdout.off("data", on);
				proc.stderr.off("data", on);
				resolve();
			}
		};
		proc.stdout.on("data", on);
		proc.stderr.on("data", on);
	});
}

/** Trials per minute with `workers` worker processes on a fresh queue. */
async function throughput(root: string, url: string, workers: number, run: number): Promise<number> {
	const queueName = `bench-${workers}-${run}`;
	const procs = Array.from({ length: workers }, (_, i) =>
		spawn(
			process.execPath,
			[path.join(ROOT, "bin", "merge.js"), "worker", "--queue", url, "--queue-name", queueName, "--name", `bench${i}`, "--quiet"],
			{ cwd: root, stdio: "pipe" },
		),
	);
	try {
		await Promise.all(procs.map((p) => waitFor(p, /worker .* on redis/, 60_000)));
		const drain = async (name: string, ts: readonly number[]): Promise<number> => {
			const file = path.join(root, `${name}.yml`);
			await writeFile(file, sweepYaml(ts));
			const spec = await loadSweep(file);
			const started = performance.now();
			for await (const _ of runSweepQueued(spec, { store: path.join(root, `${name}.sqlite`), queue: url, queueName })) void _;
			return (performance.now() - started) / 1000;
		};
		// Warm-up: one trial per worker, so each worker's trial process has loaded the library and tfjs.
		await drain(
			`warm-${workers}-${run}`,
			Array.from({ length: workers }, (_, i) => 0.91 + i / 100 + run / 1000 + workers / 10000),
		);
		const seconds = await drain(
			`tp-${workers}-${run}`,
			THROUGHPUT_TRIALS.map((t) => t + run / 1000 + workers / 10000),
		);
		return (60 * THROUGHPUT_TRIALS.length) / seconds;
	} finally {
		for (const p of procs) p.kill("SIGTERM");
		await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once("exit", r)))));
	}
}

export async function runSweepBench(opts: SweepBenchOptions = {}): Promise<void> {
	const log = opts.log ?? ((l: string) => console.log(l));
	const repeat = opts.repeat ?? 3;
	const root = await mkdtemp(path.join(opts.dir ?? tmpdir(), "lm-merge-sweep-bench-"));
	try {
		await writeModels(root);
		log(
			`per-trial overhead: ${OVERHEAD_TRIALS.length} SLERP trials of a ${SHAPE.layers}-layer, ${SHAPE.hidden}-wide model, ` +
				`16 prompts each (merge threads 1)`,
		);
		await direct(root, [0.5]); // warm-up: tfjs, wasm kernels, page cache
		const overhead: number[] = [];
		const versusDirect: number[] = [];
		for (let r = 0; r < repeat; r++) {
			// Alternate the order so a load change on the shared machine does not always hit the same side.
			const ts = OVERHEAD_TRIALS.map((t) => t + r / 1000);
			let d: number;
			let s: Awaited<ReturnType<typeof swept>>;
			if (r % 2 === 0) {
				d = await direct(root, ts);
				s = await swept(root, ts, r);
			} else {
				s = await swept(root, ts, r);
				d = await direct(root, ts);
			}
			overhead.push(100 * (s.seconds / s.work - 1));
			versusDirect.push(100 * (s.seconds / d - 1));
			log(
				`  run ${r + 1}: sweep ${s.seconds.toFixed(1)} s for ${s.work.toFixed(1)} s of merge + eval → overhead ${overhead[r]!.toFixed(2)} %` +
					` (${((s.seconds - s.work) / ts.length).toFixed(2)} s per trial); ` +
					`direct calls ${d.toFixed(1)} s (sweep ${versusDirect[r]! >= 0 ? "+" : ""}${versusDirect[r]!.toFixed(1)} %)`,
			);
		}
		log(
			`  per-trial overhead beyond merge + eval: ${range(overhead, 2)} % (goal ≤ 5 %); ` +
				`sweep vs direct calls, separate runs on a shared machine: ${range(versusDirect)} %`,
		);

		if (!existsSync(path.join(ROOT, "dist", "cli", "main.js"))) {
			log("throughput: skipped (the workers are the built CLI: run npm run build first)");
			return;
		}
		const which = spawn("sh", ["-c", "command -v redis-server"], { stdio: "pipe" });
		const bin = await new Promise<string>((resolve) => {
			let out = "";
			which.stdout.on("data", (d: Buffer) => (out += d.toString()));
			which.on("close", () => resolve(out.trim()));
		});
		if (bin === "") {
			log("throughput: skipped (redis-server is not installed: apt-get install redis-server)");
			return;
		}
		const port = await freePort();
		const redis = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "pipe" });
		try {
			await waitFor(redis, /Ready to accept connections/, 15_000);
			const url = `redis://127.0.0.1:${port}`;
			log(`throughput through Redis: ${THROUGHPUT_TRIALS.length} trials per run after a warm-up trial per worker`);
			const one: number[] = [];
			const two: number[] = [];
			for (let r = 0; r < Math.max(1, repeat - 1); r++) {
				one.push(await throughput(root, url, 1, r));
				two.push(await throughput(root, url, 2, r));
				log(
					`  run ${r + 1}: 1 worker ${one[r]!.toFixed(1)} trials/min, ` +
						`2 workers ${two[r]!.toFixed(1)} trials/min (×${(two[r]! / one[r]!).toFixed(2)})`,
				);
			}
			log(
				`  1 worker: ${range(one)} trials/min; 2 workers: ${range(two)} trials/min; speed-up ×${range(
					two.map((v, i) => v / one[i]!),
					2,
				)}`,
			);
		} finally {
			redis.kill("SIGTERM");
		}
	} finally {
		if (opts.keep !== true) await rm(root, { recursive: true, force: true });
		else log(`kept ${root}`);
	}
}

if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
	const i = process.argv.indexOf("--repeat");
	await runSweepBench({ keep: process.argv.includes("--keep"), ...(i > 0 ? { repeat: Number(process.argv[i + 1]) } : {}) });
}
