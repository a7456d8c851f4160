import type { Argv, CommandModule } from "yargs";
import { UsageError } from "../../errors.js";
import { DEFAULT_QUEUE_NAME } from "../../sweep/queue.js";
import { startWorker, type WorkerEvent } from "../../sweep/worker.js";
import type { Io } from "../output.js";

interface WorkerArgs {
	queue: string;
	"queue-name": string;
	concurrency: number;
	"lock-duration": number;
	"work-dir"?: string;
	"keep-dir"?: string;
	name?: string;
	quiet?: boolean;
}

function render(io: Io, quiet: boolean): (e: WorkerEvent) => void {
	return (e) => {
		switch (e.event) {
			case "ready":
				io.err(
					`worker ${e.worker} on ${e.queue}, ${e.concurrency} trial(s) at a time` +
						`${e.removed.length > 0 ? `; removed ${e.removed.length} stale trial folder(s)` : ""}`,
				);
				break;
			case "active":
				if (!quiet)
					io.err(
						`trial ${e.key.slice(0, 12)} (${Object.entries(e.params)
							.map(([k, v]) => `${k}=${JSON.stringify(v)}`)
							.join(", ")}): started${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`,
					);
				break;
			case "completed":
				if (!quiet) io.err(`trial ${e.key.slice(0, 12)}: done, objective ${e.objective.toFixed(2)} in ${e.seconds.toFixed(1)} s`);
				break;
			case "failed":
				io.err(`trial ${e.key.slice(0, 12)}: failed${e.willRetry ? " (will retry)" : ""}: ${e.error}`);
				break;
			case "error":
				io.err(`warning: ${e.message}`);
				break;
			case "progress":
				if (!quiet && (e.progress.phase === "merge" || e.progress.phase === "eval")) {
					io.err(
						`trial ${e.key.slice(0, 12)}: ${e.progress.phase === "merge" ? "merging" : "scoring"} ${e.progress.done}/${e.progress.total}`,
					);
				}
				break;
		}
	};
}

export function workerCommand(io: Io): CommandModule<object, WorkerArgs> {
	return {
		command: "worker",
		describe: "Take sweep trials from a Redis queue and run them until stopped (Ctrl-C finishes the current trial; twice hands it back)",
		builder: (y: Argv) =>
			y
				.option("queue", { type: "string", demandOption: true, description: "Redis holding the queue: redis://HOST:PORT[/DB]" })
				.option("queue-name", { type: "string", default: DEFAULT_QUEUE_NAME, description: "BullMQ queue name" })
				.option("concurrency", { type: "number", default: 1, description: "Trials at once, each in its own process" })
				.option("lock-duration", {
					type: "number",
					default: 30,
					description: "Seconds a lost worker's trial stays claimed before another worker takes it",
				})
				.option("work-dir", { type: "string", description: "Parent folder of temporary merges (default: the OS temp folder)" })
				.option("keep-dir", { type: "string", description: "Where trials enqueued with --keep are kept (default: ./lm-merge-trials)" })
				.option("name", { type: "string", description: "Name shown in the store's worker column (default: host:pid)" })
				.option("quiet", { alias: "q", type: "boolean", description: "Only failures" }) as never,
		handler: async (argv) => {
			if (!Number.isInteger(argv.concurrency) || argv.concurrency < 1)
				throw new UsageError(`--concurrency ${argv.concurrency}: expected a positive integer`);
			if (!(argv["lock-duration"] >= 1)) throw new UsageError(`--lock-duration ${argv["lock-duration"]}: expected at least 1 second`);
			const handle = await startWorker(
				{
					queue: argv.queue,
					queueName: argv["queue-name"],
					concurrency: argv.concurrency,
					lockMs: Math.round(argv["lock-duration"] * 1000),
					...(argv["work-dir"] !== undefined ? { workDir: argv["work-dir"] } : {}),
					...(argv["keep-dir"] !== undefined ? { keepDir: argv["keep-dir"] } : {}),
					...(argv.name !== undefined ? { name: argv.name } : {}),
				},
				render(io, argv.quiet === true),
			);
			await new Promise<void>((resolve, reject) => {
				let signals = 0;
				const stop = (sig: NodeJS.Signals) => {
					signals++;
					if (signals === 1) {
						io.err(`${sig}: finishing the current trial(s), then stopping (again: hand them back to the queue)`);
						handle.close().then(resolve, reject);
					} else if (signals === 2) {
						io.err(`${sig}: handing the current trial(s) back to the queue (again: quit now)`);
						handle.handBack().then(resolve, reject);
					} else process.exit(130);
				};
				process.on("SIGINT", stop);
				process.on("SIGTERM", stop);
			});
			io.err("worker stopped");
		},
	};
}
