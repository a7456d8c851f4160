import type { Argv, CommandModule } from "yargs";
import { SweepError } from "../../errors.js";
import { parseRecipe } from "../../recipe/load.js";
import { ResultsStore } from "../../sweep/store.js";
import { executeMerge, type MergeFlags, withMergeFlags } from "../merge-flags.js";
import type { Io } from "../output.js";
import { storeAndSweep } from "../sweep-name.js";

interface BestArgs extends MergeFlags {
	file?: string;
	store?: string;
}

export function sweepBestCommand(io: Io): CommandModule<object, BestArgs> {
	return {
		command: "best [file]",
		describe: "Merge the sweep's best trial again, in full, into --out",
		builder: (y: Argv) =>
			withMergeFlags(
				y
					.positional("file", { type: "string", description: "Sweep file (its default store and name)" })
					.option("store", { type: "string", description: "Results store (default: SWEEP.sqlite beside the sweep file)" }),
			) as never,
		handler: async (argv) => {
			const { store, sweep } = storeAndSweep(argv.file, argv.store);
			const s = ResultsStore.open(store, { readonly: true });
			let best: ReturnType<typeof s.best>;
			try {
				best = s.best(sweep !== undefined ? { sweep } : {});
			} finally {
				s.close();
			}
			if (best === undefined || best.recipe === null) {
				throw new SweepError("NotFound", `no finished trial${sweep !== undefined ? ` of sweep ${sweep}` : ""} with a recipe`, store);
			}
			const values = Object.entries(best.params)
				.map(([k, v]) => `${k}=${JSON.stringify(v)}`)
				.join(", ");
			if (argv.quiet !== true && argv.json !== true) {
				io.err(`best trial ${best.key.slice(0, 12)} (${values}): ${best.objectiveName ?? "objective"} ${best.objective?.toFixed(2)}`);
			}
			await executeMerge(io, parseRecipe(best.recipe), argv, `${best.sweep ?? "sweep"}-best`);
		},
	};
}
