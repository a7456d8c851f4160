import type { Argv, CommandModule } from "yargs";
import { renderTrialTable } from "../../report/markdown.js";
import { collectFinishedFor, DEFAULT_QUEUE_NAME, queueStatus } from "../../sweep/queue.js";
import { readReportData } from "../../sweep/report-source.js";
import { ResultsStore, type TrialStatus } from "../../sweep/store.js";
import type { Io } from "../output.js";
import { storeAndSweep } from "../sweep-name.js";

interface StatusArgs {
	file?: string;
	store?: string;
	queue?: string;
	"queue-name": string;
	json?: boolean;
}

export function sweepStatusCommand(io: Io): CommandModule<object, StatusArgs> {
	return {
		command: "status [file]",
		describe: "Show a sweep's trials from its results store (with --queue: collect finished jobs and show the queue)",
		builder: (y: Argv) =>
			y
				.positional("file", { type: "string", description: "Sweep file (its default store and name)" })
				.option("store", { type: "string", description: "Results store (default: SWEEP.sqlite beside the sweep file)" })
				.option("queue", {
					type: "string",
					description: "Also collect finished trials from this Redis queue and show its jobs and workers",
				})
				.option("queue-name", { type: "string", default: DEFAULT_QUEUE_NAME, description: "BullMQ queue name" })
				.option("json", { type: "boolean", description: "Print counts and rows as JSON" }) as never,
		handler: async (argv) => {
			const { store, sweep } = storeAndSweep(argv.file, argv.store);
			ResultsStore.open(store, { readonly: true }).close(); // a missing or foreign file: one clear error first
			const queue = argv.queue !== undefined ? await collectFinishedFor(store, argv.queue, argv["queue-name"], sweep) : undefined;
			const counts: Record<TrialStatus, number> = { queued: 0, running: 0, done: 0, failed: 0 };
			const s = ResultsStore.open(store, { readonly: true });
			let running: string[];
			try {
				const rows = s.list(sweep !== undefined ? { sweep } : {});
				for (const r of rows) counts[r.status]++;
				running = rows.filter((r) => r.status === "running").map((r) => r.worker ?? "?");
			} finally {
				s.close();
			}
			const total = Object.values(counts).reduce((a, b) => a + b, 0);
			const data = total > 0 ? await readReportData([store], sweep !== undefined ? { sweep } : {}) : undefined;
			const qs = argv.queue !== undefined ? await queueStatus(argv.queue, argv["queue-name"]) : undefined;
			if (argv.json === true) {
				io.out(
					JSON.stringify(
						{ store, sweep: sweep ?? null, counts, collected: queue ?? 0, queue: qs ?? null, rows: data?.rows ?? [] },
						null,
						2,
					),
				);
				return;
			}
			io.out(
				`${sweep !== undefined ? `sweep ${sweep}: ` : ""}${total} trial(s): ${counts.done} done, ${counts.running} running` +
					`${running.length > 0 ? ` (${[...new Set(running)].join(", ")})` : ""}, ${counts.queued} queued, ${counts.failed} failed`,
			);
			if (qs !== undefined) {
				io.out(
					`queue ${argv.queue} (${argv["queue-name"]}): ${Object.entries(qs.counts)
						.map(([k, v]) => `${v} ${k}`)
						.join(", ")}; workers: ${qs.workers.length > 0 ? qs.workers.join(", ") : "none"}`,
				);
				if ((queue ?? 0) > 0) io.out(`collected ${queue} finished trial(s) into the store`);
			}
			if (data === undefined) return;
			io.out(renderTrialTable(data));
			for (const r of data.rows.filter((r) => r.status === "failed")) io.out(`failed: ${r.label}: ${r.error ?? ""}`);
		},
	};
}
