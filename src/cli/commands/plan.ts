import type { CommandModule } from "yargs";
import { UsageError } from "../../errors.js";
import { parseDtypeName } from "../../io/dtypes.js";
import { buildPlan, closePlan } from "../../plan/plan.js";
import { loadRecipe } from "../../recipe/load.js";
import { describePlan } from "../describe-plan.js";
import { createDownloadRenderer } from "../hub-render.js";
import { COMPAT_OPTION } from "../merge-flags.js";
import type { Io } from "../output.js";

interface PlanArgs {
	recipe: string;
	json?: boolean;
	dtype?: string;
	seed?: number;
	"truncate-vocab"?: boolean;
	compat?: string;
	offline?: boolean;
	refresh?: boolean;
	"allow-crimes"?: boolean;
}

export function planCommand(io: Io): CommandModule<object, PlanArgs> {
	return {
		command: "plan <recipe>",
		describe: "Validate a recipe against the models' headers and print the per-tensor plan (reads no tensor data)",
		builder: (y) =>
			y
				.positional("recipe", { type: "string", demandOption: true })
				.option("json", { type: "boolean", description: "Print the plan as JSON" })
				.option("dtype", { type: "string", description: "Output dtype override" })
				.option("seed", { type: "number" })
				.option("truncate-vocab", { type: "boolean" })
				.option("compat", COMPAT_OPTION)
				.option("offline", {
					type: "boolean",
					description:
						"Never contact the Hub: repo ids must be in the cache (a plan downloads missing models otherwise, to read their headers)",
				})
				.option("refresh", { type: "boolean", description: "Ask the Hub where a cached branch points now" })
				.option("allow-crimes", {
					alias: "allow-architecture-mismatch",
					type: "boolean",
					description: "Allow models of different architectures (mergekit's flag)",
				}) as never,
		handler: async (argv) => {
			const dtype = argv.dtype !== undefined ? parseDtypeName(argv.dtype) : undefined;
			if (argv.dtype !== undefined && dtype === undefined)
				throw new UsageError(`--dtype ${argv.dtype}: expected bfloat16, float16 or float32`);
			const recipe = await loadRecipe(argv.recipe);
			const downloads = createDownloadRenderer(io, { quiet: argv.json === true });
			const plan = await buildPlan(recipe, {
				hub: {
					...(argv.offline === true ? { offline: true } : {}),
					...(argv.refresh === true ? { refresh: true } : {}),
					onDownload: (e) => downloads.onEvent(e),
				},
				...(dtype !== undefined ? { dtype } : {}),
				...(argv.seed !== undefined ? { seed: argv.seed } : {}),
				...(argv["truncate-vocab"] === true ? { truncateVocab: true } : {}),
				...(argv.compat !== undefined ? { compat: argv.compat as "float32" | "mergekit" } : {}),
				...(argv["allow-crimes"] === true ? { allowArchitectureMismatch: true } : {}),
			});
			try {
				describePlan(io, plan, { json: argv.json === true });
			} finally {
				await closePlan(plan);
			}
		},
	};
}
