import path from "node:path";
import type { CommandModule } from "yargs";
import { UsageError } from "../../errors.js";
import { loadRecipe } from "../../recipe/load.js";
import { resolveMergeDevice } from "../device.js";
import { executeMerge, type MergeFlags, withMergeFlags } from "../merge-flags.js";
import type { Io } from "../output.js";

export function runCommand(io: Io): CommandModule<object, MergeFlags & { recipe: string; output?: string }> {
	return {
		command: "run <recipe> [output]",
		describe: "Run a mergekit-style YAML recipe",
		builder: (y) =>
			withMergeFlags(
				y
					.positional("recipe", { type: "string", demandOption: true, description: "Recipe file (.yml)" })
					.positional("output", { type: "string", description: "Output folder, as mergekit-yaml takes it (same as --out)" }),
			)
				.example("$0 run merges/biomistral-slerp.yml --out merged/biomistral-slerp", "")
				.example("$0 run merges/biomistral-slerp.yml merged/biomistral-slerp", "the output folder as mergekit-yaml takes it") as never,
		handler: async (argv) => {
			if (argv.output !== undefined && argv.out !== undefined && argv.output !== argv.out) {
				throw new UsageError(`two output folders: ${argv.output} (positional) and --out ${argv.out}; give one`);
			}
			resolveMergeDevice(argv); // a bad --device / --backend is a usage error before any file is read
			const recipe = await loadRecipe(argv.recipe);
			const flags = argv.output !== undefined ? { ...argv, out: argv.output } : argv;
			await executeMerge(io, recipe, flags, path.basename(argv.recipe).replace(/\.ya?ml$/i, ""));
		},
	};
}
