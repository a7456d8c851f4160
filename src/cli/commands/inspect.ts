import type { CommandModule } from "yargs";
import { layerIndexOf } from "../../arch/detect.js";
import { openModel } from "../../model/model-dir.js";
import { numel } from "../../tensor/tensor.js";
import { inspectGguf, isGgufFile } from "../inspect-gguf.js";
import { formatBytes, type Io } from "../output.js";
import { printable } from "../printable.js";

interface InspectArgs {
	path: string;
	json?: boolean;
}

export function inspectCommand(io: Io): CommandModule<object, InspectArgs> {
	return {
		command: "inspect <path>",
		describe: "Validate a weights file (safetensors, PyTorch .bin or GGUF) or model folder and list its tensors",
		builder: (y) =>
			y
				.positional("path", { type: "string", demandOption: true, description: "A .safetensors, .bin or .gguf file, or a model folder" })
				.option("json", { type: "boolean", description: "Print JSON" }) as never,
		handler: async (argv) => {
			if (argv.path.toLowerCase().endsWith(".gguf") || (await isGgufFile(argv.path))) {
				await inspectGguf(io, argv.path, argv.json === true);
				return;
			}
			const model = await openModel(argv.path);
			try {
				const tensors = model.names().map((name) => {
					const info = model.info(name);
					return { name, dtype: info.dtype, shape: info.shape, bytes: info.byteLength, file: model.fileOf(name) };
				});
				const parameters = tensors.reduce((n, t) => n + numel(t.shape), 0);
				const bytes = tensors.reduce((n, t) => n + t.bytes, 0);
				let layers = 0;
				for (const t of tensors) {
					const i = layerIndexOf(t.name);
					if (i !== undefined && i + 1 > layers) layers = i + 1;
				}
				const files = [...new Set(tensors.map((t) => t.file))];
				if (argv.json === true) {
					io.out(JSON.stringify({ path: argv.path, files, metadata: model.metadata(), tensors, parameters, bytes, layers }, null, 2));
					return;
				}
				// Names and metadata come from the file: escaped, so they cannot carry terminal control sequences or newlines.
				const names = tensors.map((t) => printable(t.name));
				const w = Math.max(4, ...names.map((n) => n.length));
				io.out(`${"name".padEnd(w)}  dtype  ${"shape".padEnd(16)}  bytes`);
				tensors.forEach((t, i) => {
					io.out(`${names[i]!.padEnd(w)}  ${t.dtype.padEnd(5)}  ${`[${t.shape.join(", ")}]`.padEnd(16)}  ${formatBytes(t.bytes)}`);
				});
				io.out("");
				io.out(
					`${tensors.length} tensors in ${files.length} file(s), ${parameters.toLocaleString("en-US")} parameters, ` +
						`${formatBytes(bytes)}, ${layers} layers`,
				);
				const meta = Object.entries(model.metadata());
				if (meta.length > 0) io.out(`metadata: ${meta.map(([k, v]) => `${printable(k)}=${printable(v)}`).join(", ")}`);
			} finally {
				await model.close();
			}
		},
	};
}
