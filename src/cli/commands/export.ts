import path from "node:path";
import type { CommandModule } from "yargs";
import { UsageError } from "../../errors.js";
import { GGUF_EXPORT_TYPES } from "../../gguf/mix.js";
import { resolveModelRef } from "../../model/refs.js";
import { ggufOutputs, parseGgufTypes, runExports } from "../gguf-export.js";
import { formatBytes, type Io } from "../output.js";

interface ExportArgs {
	model: string;
	type: string[];
	out?: string;
	force?: boolean;
	name?: string;
	threads?: number;
	json?: boolean;
	quiet?: boolean;
}

export function exportCommand(io: Io): CommandModule<object, ExportArgs> {
	return {
		command: "export <model>",
		describe: "Export a model to GGUF for llama.cpp (f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k)",
		builder: (y) =>
			y
				.positional("model", {
					type: "string",
					demandOption: true,
					description: "A model folder, safetensors file, alias or Hugging Face cache id",
				})
				.option("type", {
					alias: "t",
					type: "string",
					array: true,
					demandOption: true,
					description: `GGUF type(s), comma-separated: ${GGUF_EXPORT_TYPES.join(", ")}`,
				})
				.option("out", {
					alias: "o",
					type: "string",
					description: "A .gguf file (one type), or a folder for <model>-<type>.gguf (default: the current folder)",
				})
				.option("force", { type: "boolean", description: "Replace existing .gguf files" })
				.option("name", { type: "string", description: "general.name in the file (default: the repo id or folder name)" })
				.option("threads", { type: "number", description: "Quantization threads (default: every core)" })
				.option("json", { type: "boolean", description: "Print a machine-readable summary on stdout" })
				.option("quiet", { alias: "q", type: "boolean", description: "No progress output" })
				.example("$0 export merged/biomistral-slerp --type q8_0,q4_k_m --out gguf/", "")
				.example("$0 export biomistral --type f16 --out biomistral-f16.gguf", "") as never,
		handler: async (argv) => {
			const types = parseGgufTypes(argv.type, "--type");
			if (argv.threads !== undefined && (!Number.isInteger(argv.threads) || argv.threads < 1))
				throw new UsageError(`--threads ${argv.threads}: expected a positive integer`);
			const resolved = await resolveModelRef(argv.model);
			const stem =
				resolved.repoId !== undefined ? resolved.repoId.split("/").at(-1)! : path.basename(resolved.path).replace(/\.safetensors$/i, "");
			const jobs = ggufOutputs(types, stem, argv.out, ".");
			const quiet = argv.quiet === true || argv.json === true;
			const results = await runExports(io, resolved.path, jobs, {
				force: argv.force === true,
				quiet,
				...(argv.name !== undefined ? { name: argv.name } : resolved.repoId !== undefined ? { name: resolved.repoId } : {}),
				...(argv.threads !== undefined ? { threads: argv.threads } : {}),
			});
			if (argv.json === true) {
				io.out(JSON.stringify({ model: resolved.path, exports: results }));
				return;
			}
			for (const r of results) io.out(`${r.out}\t${r.type}\t${formatBytes(r.bytes)}`);
		},
	};
}
