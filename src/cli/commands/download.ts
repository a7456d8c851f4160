import type { CommandModule } from "yargs";
import { UsageError } from "../../errors.js";
import { downloadSnapshotIter } from "../../hub/download.js";
import type { DownloadResult } from "../../hub/events.js";
import { parseHfRef } from "../../hub/repo-id.js";
import { createDownloadRenderer } from "../hub-render.js";
import type { Io } from "../output.js";

interface DownloadArgs {
	repos: string[];
	revision?: string;
	offline?: boolean;
	concurrency?: number;
	"cache-dir"?: string;
	json?: boolean;
	quiet?: boolean;
}

export function downloadCommand(io: Io): CommandModule<object, DownloadArgs> {
	return {
		command: "download <repos..>",
		describe: "Download Hub models (what a merge needs) into the shared Hugging Face cache",
		builder: (y) =>
			y
				.positional("repos", { type: "string", array: true, demandOption: true, description: "Repo ids, org/name[@revision]" })
				.option("revision", { type: "string", description: "Branch, tag or commit for repos given without @revision (default main)" })
				.option("offline", {
					type: "boolean",
					description: "Make no request: succeed only if a cached commit is complete (also HF_HUB_OFFLINE=1)",
				})
				.option("concurrency", { type: "number", description: "Files transferred at once (default 4)" })
				.option("cache-dir", {
					type: "string",
					description: "The cache folder (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)",
				})
				.option("json", { type: "boolean", description: "Print the results as JSON on stdout" })
				.option("quiet", { alias: "q", type: "boolean", description: "No progress output" })
				.example("$0 download BioMistral/BioMistral-7B", "fetch main into ~/.cache/huggingface/hub and print the snapshot folder")
				.example("$0 download mistralai/Mistral-7B-Instruct-v0.1@41b61a3", "a tag or commit") as never,
		handler: async (argv) => {
			if (argv.concurrency !== undefined && (!Number.isInteger(argv.concurrency) || argv.concurrency < 1)) {
				throw new UsageError(`--concurrency ${argv.concurrency}: expected a positive integer`);
			}
			const refs = argv.repos.map((r) => {
				const ref = parseHfRef(r);
				if (ref === undefined) throw new UsageError(`${r}: not a Hub repo id (expected org/name or org/name@revision)`);
				return ref;
			});
			const controller = new AbortController();
			const onSigint = () => {
				io.err("interrupt: stopping; partial files stay in the cache and the next download resumes them");
				controller.abort();
			};
			process.once("SIGINT", onSigint);
			const results: DownloadResult[] = [];
			const view = createDownloadRenderer(io, { quiet: argv.quiet === true || argv.json === true });
			try {
				for (const ref of refs) {
					const revision = ref.revision ?? argv.revision;
					const gen = downloadSnapshotIter(ref.repoId, {
						...(revision !== undefined ? { revision } : {}),
						...(argv.offline === true ? { offline: true } : {}),
						...(argv.concurrency !== undefined ? { concurrency: argv.concurrency } : {}),
						...(argv["cache-dir"] !== undefined ? { cacheDir: argv["cache-dir"] } : {}),
						signal: controller.signal,
					});
					for (;;) {
						const r = await gen.next();
						if (r.done === true) {
							results.push(r.value);
							break;
						}
						view.onEvent(r.value);
					}
				}
			} finally {
				view.stop();
				process.off("SIGINT", onSigint);
			}
			if (argv.json === true) io.out(JSON.stringify(results.length === 1 ? results[0] : results));
			else for (const r of results) io.out(r.path);
		},
	};
}
