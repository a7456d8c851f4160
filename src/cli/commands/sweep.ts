import path from "node:path";
import type { Argv, CommandModule } from "yargs";
import { ExecError, SweepError, UsageError } from "../../errors.js";
import { renderTrialTable } from "../../report/markdown.js";
import type { SweepEvent } from "../../sweep/events.js";
import { runSweepLocal, type SweepSummary } from "../../sweep/local.js";
import { DEFAULT_QUEUE_NAME, runSweepQueued } from "../../sweep/queue.js";
import { defaultStorePath, readReportData } from "../../sweep/report-source.js";
import { loadSweep } from "../../sweep/spec.js";
import type { Io } from "../output.js";
import { createSweepRenderer } from "../sweep-render.js";
import { sweepBestCommand } from "./sweep-best.js";
import { sweepStatusCommand } from "./sweep-status.js";

interface SweepArgs {
	file: string;
	store?: string;
	queue?: string;
	"queue-name": string;
	keep?: boolean;
	"keep-dir"?: string;
	detach?: boolean;
	"work-dir"?: string;
	json?: boolean;
	quiet?: boolean;
}

/** Runs an async generator of sweep events to its summary, rendering each event; Ctrl-C stops it cleanly. */
async function drive(
	io: Io,
	gen: (signal: AbortSignal) => AsyncGenerator<SweepEvent, SweepSummary>,
	quiet: boolean,
	queued: boolean,
): Promise<SweepSummary> {
	const controller = new AbortController();
	let interrupts = 0;
	const onSigint = () => {
		interrupts++;
		if (interrupts > 1) process.exit(130);
		io.err(
			queued
				? "interrupt: no longer waiting (queued trials stay with the workers; Ctrl-C again to quit now)"
				: "interrupt: stopping the current trial; it goes back to the queue and a rerun resumes (Ctrl-C again to quit now)",
		);
		controller.abort();
	};
	process.on("SIGINT", onSigint);
	const render = createSweepRenderer(io, quiet);
	try {
		const it = gen(controller.signal);
		for (;;) {
			const step = await it.next();
			if (step.done === true) return step.value;
			render.onEvent(step.value);
		}
	} finally {
		process.off("SIGINT", onSigint);
	}
}

/** `merge sweep SWEEP.yml`: runs (or enqueues) every trial, waits, prints the results table. */
function sweepRunCommand(io: Io): CommandModule<object, SweepArgs> {
	return {
		command: "$0 <file>",
		describe: "Run every trial of a sweep file (merge → score → record) and print the results table",
		builder: (y: Argv) =>
			y
				.positional("file", { type: "string", demandOption: true, description: "Sweep file (.yml)" })
				.option("store", { type: "string", description: "Results store (default: SWEEP.sqlite beside the sweep file)" })
				.option("queue", {
					type: "string",
					description: "Enqueue trials on Redis for `merge worker`s instead of running them here (redis://HOST:PORT)",
				})
				.option("queue-name", { type: "string", default: DEFAULT_QUEUE_NAME, description: "BullMQ queue name" })
				.option("keep", { type: "boolean", description: "Keep each trial's merged model and eval.json (default: deleted after scoring)" })
				.option("keep-dir", {
					type: "string",
					description: "Where kept trials go (default: SWEEP.trials beside the sweep file; with --queue, each worker's --keep-dir)",
				})
				.option("detach", { type: "boolean", description: "With --queue: enqueue and return without waiting (grid and random sweeps)" })
				.option("work-dir", { type: "string", description: "Parent folder of temporary merges (default: the OS temp folder)" })
				.option("json", { type: "boolean", description: "Print the trials as JSON instead of the table" })
				.option("quiet", { alias: "q", type: "boolean", description: "Only failures and the final table" })
				.example("$0 sweep sweeps/slerp-t.yml", "run a sweep here; rerun to resume")
				.example("$0 sweep sweeps/slerp-t.yml --queue redis://127.0.0.1:6379", "let `merge worker`s run it") as never,
		handler: async (argv) => {
			if (argv.detach === true && argv.queue === undefined)
				throw new UsageError("--detach needs --queue (a local sweep runs in this process)");
			if (argv.keep !== true && argv["keep-dir"] !== undefined) throw new UsageError("--keep-dir needs --keep");
			const spec = await loadSweep(argv.file);
			const store = path.resolve(argv.store ?? defaultStorePath(argv.file));
			const keepDir =
				argv.keep === true && argv.queue === undefined
					? path.resolve(argv["keep-dir"] ?? path.join(path.dirname(spec.file), `${spec.name}.trials`))
					: undefined;
			const common = {
				store,
				...(keepDir !== undefined ? { keepDir } : {}),
				...(argv["work-dir"] !== undefined ? { workDir: path.resolve(argv["work-dir"]) } : {}),
			};
			const queue = argv.queue;
			let summary: SweepSummary;
			try {
				summary = await drive(
					io,
					(signal) =>
						queue !== undefined
							? runSweepQueued(spec, {
									...common,
									signal,
									queue,
									queueName: argv["queue-name"],
									detach: argv.detach === true,
									keep: argv.keep === true,
								})
							: runSweepLocal(spec, { ...common, signal }),
					argv.quiet === true,
					queue !== undefined,
				);
			} catch (err) {
				if (err instanceof ExecError && err.kind === "Interrupted" && queue === undefined) {
					throw new ExecError("Interrupted", `sweep interrupted; finished trials are in ${store}: run the same command again to resume`);
				}
				throw err;
			}
			if (summary.pending !== undefined) return;
			const data = await readReportData([store], { sweep: spec.name });
			if (argv.json === true) io.out(JSON.stringify(data.rows, null, 2));
			else io.out(renderTrialTable(data));
			if (summary.failed > 0)
				throw new SweepError("Trial", `${summary.failed} trial(s) failed (their errors are above and in merge sweep status)`, argv.file);
		},
	};
}

export function sweepCommand(io: Io): CommandModule<object, object> {
	return {
		command: "sweep",
		describe: "Merge → score sweeps over recipe parameters (grid, random, CMA-ES search), locally or through a Redis queue",
		builder: (y: Argv) =>
			y
				.command(sweepStatusCommand(io) as CommandModule)
				.command(sweepBestCommand(io) as CommandModule)
				.command(sweepRunCommand(io) as CommandModule) as never,
		handler: () => {},
	};
}
