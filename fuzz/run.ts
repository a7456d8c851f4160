/**
 * Runs a range of fuzz cases in this thread and tallies them. Used by the quick run inside `npm test`
 * (test/fuzz/fuzz.test.ts) and by each worker of the long run (`npm run fuzz`, fuzz/main.ts), which adds the hang
 * watchdog a single thread cannot have.
 */

import { buildCase, type FuzzCase, type Outcome, runCase, type Target, type Verdict } from "./targets.js";
import { threadCpuMs } from "./thread-cpu.js";

/** A case that failed: what happened, and enough to replay it. */
export interface FuzzFailure {
	target: Target;
	index: number;
	/** crashed / mismatch (see targets.ts); slow: over the time limit twice; invalid: an unmutated input was refused; hang: stopped. */
	kind: "crashed" | "mismatch" | "slow" | "invalid" | "hang";
	detail: string;
	labels: string[];
}

export interface FuzzTally {
	cases: number;
	accepted: number;
	rejected: number;
	crashed: number;
	mismatch: number;
	slow: number;
	invalid: number;
	hangs: number;
	failures: FuzzFailure[];
}

export function emptyTally(): FuzzTally {
	return { cases: 0, accepted: 0, rejected: 0, crashed: 0, mismatch: 0, slow: 0, invalid: 0, hangs: 0, failures: [] };
}

/** Whether a tally holds any failure. */
export function failed(t: FuzzTally): boolean {
	return t.crashed + t.mismatch + t.slow + t.invalid + t.hangs > 0;
}

/** Adds `b` into `a`. */
export function addTally(a: FuzzTally, b: FuzzTally): void {
	for (const k of ["cases", "accepted", "rejected", "crashed", "mismatch", "slow", "invalid", "hangs"] as const) a[k] += b[k];
	a.failures.push(...b.failures);
}

export interface FuzzRange {
	seed: number;
	/** Cases [start, end): case i runs target targets[i mod targets.length] with index i. */
	start: number;
	end: number;
	targets: readonly Target[];
	/** A case slower than this (wall time), then again when run a second time (CPU time on Linux), fails (default 1000 ms). */
	slowMs?: number;
	/** Cases not to run (hangs already recorded). */
	skip?: readonly number[];
	/** Called before each case (the watchdog's heartbeat). */
	onCase?: (index: number) => void;
	/** Keep at most this many failure records (all are counted). */
	maxFailures?: number;
	/**
	 * Faults to inject, by case number, to test the runner itself: "crash" reports the case as crashed, "hang" never
	 * returns (the long run's watchdog must stop it).
	 */
	inject?: ReadonlyMap<number, "crash" | "hang">;
}

/** Parses LM_MERGE_FUZZ_INJECT (`crash@5,hang@8`), the runner's own test hook. */
export function parseInject(spec: string | undefined): Map<number, "crash" | "hang"> {
	const out = new Map<number, "crash" | "hang">();
	for (const item of (spec ?? "").split(",").filter((s) => s !== "")) {
		const [kind, at] = item.split("@");
		if ((kind !== "crash" && kind !== "hang") || !/^\d+$/.test(at ?? ""))
			throw new Error(`LM_MERGE_FUZZ_INJECT: "${item}" is not crash@N or hang@N`);
		out.set(Number(at), kind);
	}
	return out;
}

/** Runs and classifies the cases of `range`. */
export function runFuzzRange(range: FuzzRange): FuzzTally {
	const tally = emptyTally();
	const slowMs = range.slowMs ?? 1000;
	const keep = range.maxFailures ?? 100;
	const fail = (f: FuzzFailure) => {
		if (tally.failures.length < keep) tally.failures.push(f);
	};
	for (let i = range.start; i < range.end; i++) {
		if (range.skip?.includes(i) === true) continue;
		const target = range.targets[i % range.targets.length]!;
		range.onCase?.(i);
		let c: FuzzCase;
		try {
			c = buildCase(target, range.seed, i);
		} catch (err) {
			// A bug of the fuzzer itself: counted (the run fails) but the run goes on.
			tally.cases++;
			tally.crashed++;
			fail({ target, index: i, kind: "crashed", detail: `the fuzzer could not build this case: ${String(err)}`, labels: [] });
			continue;
		}
		const fault = range.inject?.get(i);
		if (fault === "hang") for (;;);
		const run = (): Outcome => (fault === "crash" ? { verdict: "crashed", detail: "injected crash (LM_MERGE_FUZZ_INJECT)" } : runCase(c));
		const started = performance.now();
		let outcome = run();
		if (performance.now() - started > slowMs) {
			// Run again and timed by this thread's CPU time where the system tells it (Linux): on a shared machine, and
			// under `nice`, wall time includes waiting for a core, which is not the parser's doing.
			const cpu = threadCpuMs();
			const wall = performance.now();
			outcome = run();
			const cpuAfter = threadCpuMs();
			const ms = cpu !== undefined && cpuAfter !== undefined ? cpuAfter - cpu : performance.now() - wall;
			if (ms > slowMs) {
				tally.slow++;
				fail({
					target,
					index: i,
					kind: "slow",
					detail: `${ms.toFixed(0)} ms ${cpu !== undefined ? "of CPU time" : "(wall time)"} (${outcome.verdict})`,
					labels: c.labels,
				});
			}
		}
		tally.cases++;
		const v: Verdict = outcome.verdict;
		if (v === "accepted") tally.accepted++;
		else if (v === "rejected") tally.rejected++;
		else if (v === "crashed") tally.crashed++;
		else tally.mismatch++;
		if (v === "crashed" || v === "mismatch") fail({ target, index: i, kind: v, detail: outcome.detail ?? "", labels: c.labels });
		else if (c.valid && v !== "accepted") {
			tally.invalid++;
			fail({ target, index: i, kind: "invalid", detail: `an unmutated input was rejected: ${outcome.detail ?? ""}`, labels: c.labels });
		}
	}
	return tally;
}
