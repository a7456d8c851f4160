/**
 * `npm run fuzz`: the long fuzz run of the safetensors header parser and the recipe loader (issue 12, item 25).
 *
 *   npm run fuzz -- [--cases 1000000] [--seed 1] [--start 0] [--target all|header|recipe] [--workers 1]
 *                   [--slow-ms 1000] [--hang-ms 30000]
 *   npm run fuzz -- --seed S --case I [--target header|recipe]     replay one case: print it and its outcome
 *
 * Cases are numbered; case i runs the targets in turn and depends only on (seed, i), so any failure printed at the
 * end can be replayed alone. Prints accepted / rejected / crashed / slow (and mismatches with the reference header
 * reader, unmutated inputs refused, hangs); exits 1 when any case failed, 2 on a bad command line. A case over
 * --slow-ms, and again when rerun, is slow; one still running after --hang-ms is a hang (its worker is stopped and
 * the run goes on). On Linux both limits count the worker thread's CPU time, so a busy machine does not trip them. Run it niced on a shared
 * machine: `nice -n 19 npm run fuzz`. LM_MERGE_FUZZ_INJECT=crash@N,hang@M injects faults at those cases, to test this runner.
 */

import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { addTally, emptyTally, type FuzzTally, failed, parseInject } from "./run.js";
import { buildCase, runCase, TARGETS, type Target } from "./targets.js";
import { taskCpuMs } from "./thread-cpu.js";
import type { Batch, WorkerInit } from "./worker.js";

/** Cases per message to a worker: large enough that messaging costs nothing, small enough for steady progress. */
const BATCH = 500;

interface Options {
	cases: number;
	seed: number;
	start: number;
	targets: Target[];
	workers: number;
	slowMs: number;
	hangMs: number;
	replay: number | undefined;
	inject: Map<number, "crash" | "hang">;
}

function options(argv: string[]): Options {
	const { values } = parseArgs({
		args: argv,
		options: {
			cases: { type: "string" },
			seed: { type: "string" },
			start: { type: "string" },
			target: { type: "string" },
			workers: { type: "string" },
			"slow-ms": { type: "string" },
			"hang-ms": { type: "string" },
			case: { type: "string" },
		},
		strict: true,
	});
	const int = (v: string | undefined, flag: string, fallback: number, min = 0) => {
		if (v === undefined) return fallback;
		const n = Number(v.replaceAll("_", ""));
		if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${flag} ${v}: expected an integer ≥ ${min}`);
		return n;
	};
	const target = values.target ?? "all";
	if (target !== "all" && !(TARGETS as readonly string[]).includes(target))
		throw new Error(`--target ${target}: expected all, ${TARGETS.join(" or ")}`);
	return {
		cases: int(values.cases, "cases", 1_000_000, 1),
		seed: int(values.seed, "seed", 1),
		start: int(values.start, "start", 0),
		targets: target === "all" ? [...TARGETS] : [target as Target],
		workers: int(values.workers, "workers", 1, 1),
		slowMs: int(values["slow-ms"], "slow-ms", 1000, 1),
		hangMs: int(values["hang-ms"], "hang-ms", 30_000, 1),
		replay: values.case === undefined ? undefined : int(values.case, "case", 0),
		inject: parseInject(process.env.LM_MERGE_FUZZ_INJECT),
	};
}

/** The worker, under tsx when this runs from TypeScript (as `npm run fuzz` does). */
function spawnWorker(init: WorkerInit): Worker {
	const file = new URL("./worker.ts", import.meta.url).href;
	const tsx = createRequire(import.meta.url)
		.resolve("tsx/esm/api")
		.replace(/\.cjs$/, ".mjs");
	const tsxUrl = JSON.stringify(new URL(`file://${tsx}`).href);
	const code = `import(${tsxUrl}).then((m) => { m.register(); return import(${JSON.stringify(file)}); })`;
	return new Worker(code, { eval: true, workerData: init });
}

function replay(o: Options, index: number): number {
	const target = o.targets[index % o.targets.length]!;
	const c = buildCase(target, o.seed, index);
	console.log(`case ${index} of seed ${o.seed} (${target}), mutations: ${c.labels.join(", ") || "none"}`);
	console.log(c.text ?? `header bytes (${c.bytes!.length}), as a JS string:\n${JSON.stringify(Buffer.from(c.bytes!).toString("latin1"))}`);
	const started = performance.now();
	const outcome = runCase(c);
	console.log(
		`${outcome.verdict}${outcome.detail !== undefined ? `: ${outcome.detail}` : ""} (${(performance.now() - started).toFixed(1)} ms)`,
	);
	return outcome.verdict === "crashed" || outcome.verdict === "mismatch" ? 1 : 0;
}

function summary(t: FuzzTally): string {
	return (
		`accepted ${t.accepted}  rejected ${t.rejected}  crashed ${t.crashed}  slow ${t.slow}  ` +
		`(mismatch ${t.mismatch}, unmutated refused ${t.invalid}, hangs ${t.hangs})`
	);
}

async function run(o: Options): Promise<FuzzTally> {
	const end = o.start + o.cases;
	const total = emptyTally();
	let next = o.start;
	const started = performance.now();
	let lastReport = started;
	const take = (): Batch | undefined => {
		if (next >= end) return undefined;
		const batch = { start: next, end: Math.min(end, next + BATCH) };
		next = batch.end;
		return batch;
	};
	await new Promise<void>((resolve, reject) => {
		let live = 0;
		const watchers: Array<() => void> = [];
		const timer = setInterval(() => {
			for (const w of watchers) w();
		}, 1000);
		const launch = (batch: Batch | undefined) => {
			if (batch === undefined) {
				if (live === 0) {
					clearInterval(timer);
					resolve();
				}
				return;
			}
			live++;
			const heartbeat = new SharedArrayBuffer(24);
			const beat = new Float64Array(heartbeat);
			const worker = spawnWorker({ seed: o.seed, targets: o.targets, slowMs: o.slowMs, inject: o.inject, heartbeat });
			let current = batch;
			let stopped = false;
			const stop = (then: () => void) => {
				stopped = true;
				live--;
				void worker.terminate().then(then);
			};
			worker.on("error", (err) => {
				if (stopped) return;
				clearInterval(timer);
				reject(err);
			});
			worker.on("message", (msg: "ready" | { batch: Batch; tally: FuzzTally }) => {
				if (msg !== "ready") {
					addTally(total, msg.tally);
					for (const f of msg.tally.failures) process.stderr.write(`fuzz: ${f.kind}: ${f.target} case ${f.index}: ${f.detail}\n`);
					const b = take();
					if (b === undefined) return stop(() => launch(undefined));
					current = b;
				}
				worker.postMessage(current);
				const now = performance.now();
				if (now - lastReport > 10_000) {
					lastReport = now;
					const rate = total.cases / ((now - started) / 1000);
					process.stderr.write(`fuzz: ${total.cases}/${o.cases} cases, ${rate.toFixed(0)}/s; ${summary(total)}\n`);
				}
			});
			// The case the watchdog last saw running, and the worker thread's CPU time (or the wall time) then.
			let seen = { index: -1, at: 0 };
			const clock = () => (beat[2]! > 0 ? taskCpuMs(beat[2]!) : undefined) ?? Date.now();
			watchers.push(() => {
				// A case that has used more than --hang-ms (of CPU time where /proc tells it) since the watchdog first saw it
				// running: record it, stop the worker, and run the rest of its batch in a new one.
				if (stopped || beat[1] === 0) return;
				if (beat[0] !== seen.index) {
					seen = { index: beat[0]!, at: clock() };
					return;
				}
				if (clock() - seen.at < o.hangMs) return;
				const index = beat[0]!;
				const target = o.targets[index % o.targets.length]!;
				total.hangs++;
				total.cases++;
				const detail = `still running after ${o.hangMs} ms${beat[2]! > 0 ? " of CPU time" : ""}`;
				total.failures.push({ target, index, kind: "hang", detail, labels: buildCase(target, o.seed, index).labels });
				process.stderr.write(`fuzz: hang: ${target} case ${index}: ${detail}\n`);
				// The batch's tally dies with the worker: run the batch again in a new one, without the hung case.
				const again = { ...current, skip: [...(current.skip ?? []), index] };
				stop(() => launch(again));
			});
		};
		for (let w = 0; w < o.workers; w++) launch(take());
	});
	return total;
}

async function main(): Promise<number> {
	let o: Options;
	try {
		o = options(process.argv.slice(2));
	} catch (err) {
		console.error(`error: ${(err as Error).message}`);
		return 2;
	}
	if (o.replay !== undefined) return replay(o, o.replay);
	console.log(
		`fuzz: seed ${o.seed}, cases ${o.start}–${o.start + o.cases - 1} over ${o.targets.join(" and ")}, ` +
			`${o.workers} worker(s) of ${availableParallelism()} cores, ` +
			`slow > ${o.slowMs} ms, hang > ${o.hangMs} ms`,
	);
	const started = performance.now();
	const t = await run(o);
	console.log(`fuzz: ${t.cases} cases in ${((performance.now() - started) / 1000).toFixed(0)} s`);
	console.log(summary(t));
	for (const f of t.failures) {
		console.log(`${f.kind}: ${f.target} case ${f.index} (${f.labels.join(", ") || "unmutated"}): ${f.detail}`);
		console.log(`  replay: npm run fuzz -- --seed ${o.seed} --case ${f.index}${o.targets.length === 1 ? ` --target ${f.target}` : ""}`);
	}
	return failed(t) ? 1 : 0;
}

process.exitCode = await main();
