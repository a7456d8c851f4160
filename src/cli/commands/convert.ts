import path from "node:path";
import type { CommandModule } from "yargs";
import { type ConvertResult, convertModelIter } from "../../exec/convert-model.js";
import { parseSize } from "../../io/layout.js";
import { resolveModelRef } from "../../model/refs.js";
import { formatBytes, type Io } from "../output.js";
import { createRenderer } from "../render.js";

interface ConvertArgs {
	model: string;
	out?: string;
	force?: boolean;
	"shard-size"?: string;
	json?: boolean;
	quiet?: boolean;
}

/** `merge convert MODEL`: PyTorch `.bin` weights (or any readable model) → safetensors, byte for byte. */
export function convertCommand(io: Io): CommandModule<object, ConvertArgs> {
	return {
		command: "convert <model>",
		describe: "Rewrite a model's weights (e.g. PyTorch pytorch_model*.bin) as safetensors, byte for byte",
		builder: (y) =>
			y
				.positional("model", {
					type: "string",
					demandOption: true,
					description: "A model folder, weight file, alias or Hugging Face id in the cache",
				})
				.option("out", { alias: "o", type: "string", description: "Output folder (default: ./converted/<model name>)" })
				.option("force", { type: "boolean", description: "Replace an existing non-empty output folder" })
				.option("shard-size", { type: "string", description: "Largest output shard, e.g. 5GB, 500MB, 2GiB (default 5GB)" })
				.option("json", { type: "boolean", description: "Print a machine-readable summary on stdout" })
				.option("quiet", { alias: "q", type: "boolean", description: "No progress output" })
				.example("$0 convert ./gpt2 --out ./gpt2-safetensors", "") as never,
		handler: async (argv) => {
			const shardSize = argv["shard-size"] !== undefined ? parseSize(argv["shard-size"]) : undefined;
			const resolved = await resolveModelRef(argv.model);
			const out = argv.out ?? path.join("converted", path.basename(argv.model.replace(/@.*$/, "")) || "model");
			const controller = new AbortController();
			const onSigint = () => {
				io.err("interrupt: stopping after the current tensor and removing the partial output");
				controller.abort();
			};
			process.on("SIGINT", onSigint);
			const renderer = createRenderer(io, {
				quiet: argv.quiet === true || argv.json === true,
				json: argv.json === true,
				verb: "converting",
			});
			let result: ConvertResult;
			try {
				const gen = convertModelIter(resolved.path, {
					out,
					force: argv.force === true,
					signal: controller.signal,
					...(shardSize !== undefined ? { shardSize } : {}),
				});
				for (;;) {
					const r = await gen.next();
					if (r.done === true) {
						result = r.value;
						break;
					}
					renderer.onEvent(r.value);
				}
			} finally {
				renderer.stop();
				process.off("SIGINT", onSigint);
			}
			if (argv.json === true) io.out(JSON.stringify({ ...result, model: resolved.path }));
			else if (argv.quiet !== true) {
				io.err(`done in ${result.seconds.toFixed(1)} s: ${result.tensors} tensors, ${formatBytes(result.bytes)}`);
				io.out(result.out);
			}
		},
	};
}
