import type { CommandModule } from "yargs";
import { UsageError } from "../../errors.js";
import { parseDtypeName } from "../../io/dtypes.js";
import { type ExtractLoraResult, extractLoraIter } from "../../lora/extract-folder.js";
import type { Io } from "../output.js";

interface ExtractArgs {
	base: string;
	model: string;
	rank: number;
	out: string;
	dtype?: string;
	include?: string;
	seed?: number;
	"power-iters"?: number;
	oversample?: number;
	force?: boolean;
	json?: boolean;
	quiet?: boolean;
}

const pct = (e: number) => (e < 1e-4 ? e.toExponential(2) : e.toFixed(4));

/** `merge extract-lora --base B --model M --rank R --out DIR`: a PEFT adapter that approximates M − B. */
export function extractLoraCommand(io: Io): CommandModule<object, ExtractArgs> {
	return {
		command: "extract-lora",
		describe: "Extract a PEFT LoRA adapter (truncated SVD of each weight's difference) that turns --base into --model",
		builder: (y) =>
			y
				.option("base", { type: "string", demandOption: true, description: "The base model (path, alias, Hugging Face id in the cache)" })
				.option("model", {
					type: "string",
					demandOption: true,
					description: "The fine-tuned model (or base+adapter, to re-rank an adapter)",
				})
				.option("rank", {
					alias: "r",
					type: "number",
					demandOption: true,
					description: "LoRA rank R (modules with a smaller dimension get that rank)",
				})
				.option("out", {
					alias: "o",
					type: "string",
					demandOption: true,
					description: "Adapter folder to write (adapter_config.json, adapter_model.safetensors)",
				})
				.option("dtype", { type: "string", description: "Adapter dtype: float32 (default) | bfloat16 | float16" })
				.option("include", { type: "string", description: "Only tensors whose name matches this regular expression" })
				.option("seed", { type: "number", description: "Seed of the randomized SVD's sketch (default 0)" })
				.option("power-iters", {
					type: "number",
					description: "Power iterations of the randomized SVD (default 2; more is slower and closer to the exact SVD)",
				})
				.option("oversample", { type: "number", description: "Extra sketch columns beyond the rank (default 8)" })
				.option("force", { type: "boolean", description: "Replace an existing non-empty output folder" })
				.option("json", { type: "boolean", description: "Print the per-module errors and summary as JSON on stdout" })
				.option("quiet", { alias: "q", type: "boolean", description: "Print only the summary" })
				.example("$0 extract-lora --base mistral --model biomistral --rank 32 --out loras/bio-r32", "") as never,
		handler: async (argv) => {
			if (!Number.isSafeInteger(argv.rank) || argv.rank < 1) throw new UsageError(`--rank ${argv.rank}: expected a positive integer`);
			const dtype = argv.dtype !== undefined ? parseDtypeName(argv.dtype) : undefined;
			if (argv.dtype !== undefined && dtype === undefined)
				throw new UsageError(`--dtype ${argv.dtype}: expected float32, bfloat16 or float16`);
			let include: RegExp | undefined;
			try {
				include = argv.include !== undefined ? new RegExp(argv.include) : undefined;
			} catch (err) {
				throw new UsageError(`--include: ${(err as Error).message}`);
			}
			const gen = extractLoraIter(argv.base, argv.model, {
				rank: argv.rank,
				out: argv.out,
				force: argv.force === true,
				...(dtype !== undefined ? { dtype } : {}),
				...(include !== undefined ? { include } : {}),
				...(argv.seed !== undefined ? { seed: argv.seed } : {}),
				...(argv["power-iters"] !== undefined ? { powerIters: argv["power-iters"] } : {}),
				...(argv.oversample !== undefined ? { oversample: argv.oversample } : {}),
			});
			const chatty = argv.quiet !== true && argv.json !== true;
			let result: ExtractLoraResult;
			for (;;) {
				const r = await gen.next();
				if (r.done === true) {
					result = r.value;
					break;
				}
				const e = r.value;
				if (e.event === "planned" && chatty) io.err(`extracting ${e.candidates} weight(s) at rank ${argv.rank} → ${argv.out}`);
				else if (e.event === "module" && chatty)
					io.err(`[${e.index + 1}/${e.total}] ${e.module.module}  rank ${e.module.rank}  relative error ${pct(e.module.error)}`);
				else if (e.event === "skipped" && e.reason !== "unchanged" && argv.json !== true) io.err(`warning: ${e.tensor}: ${e.reason}`);
			}
			if (argv.json === true) {
				io.out(JSON.stringify(result));
				return;
			}
			const notCaptured = result.skipped.filter((s) => s.reason !== "unchanged").length;
			io.err(
				`extracted ${result.modules.length} module(s) at rank ${result.rank} in ${result.seconds.toFixed(1)} s: ` +
					`relative error mean ${pct(result.meanError)}, max ${pct(result.maxError)} (${result.worst})` +
					(notCaptured > 0 ? `; ${notCaptured} changed tensor(s) not captured (see warnings)` : ""),
			);
			io.out(result.out);
		},
	};
}
