import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import type { CommandModule } from "yargs";
import { ExecError, UsageError } from "../../errors.js";
import { isQuantType, QUANT_TYPES, type QuantType } from "../../eval/backends/types.js";
import { type EvaluateOptions, evaluateIter } from "../../eval/evaluate.js";
import { modelName } from "../../eval/model-name.js";
import { renderMarkdown, renderText } from "../../eval/report.js";
import { formatReportJson } from "../../eval/report-json.js";
import { TASK_ALIASES, TASK_NAMES } from "../../eval/tasks/registry.js";
import type { EvalReport } from "../../eval/types.js";
import { letterDeviation, renderVariantTable } from "../../eval/variants.js";
import { resolveModelRef } from "../../model/refs.js";
import { recordEvaluation } from "../../sweep/record-eval.js";
import { workerId } from "../../sweep/worker-id.js";
import { EVAL_BACKENDS, resolveEvalDevice } from "../device.js";
import { checkpointPath, reportPath, writeAtomic } from "../eval-output.js";
import { evalProgress } from "../eval-progress.js";
import { createDownloadRenderer } from "../hub-render.js";
import type { Io } from "../output.js";

interface EvalArgs {
	models: string[];
	data: string;
	task?: string[];
	mode?: string;
	shots?: number;
	seeds?: number;
	limit?: number;
	batch?: number;
	backend?: string;
	quant?: string;
	device?: string;
	cuda?: boolean;
	threads?: number;
	"max-tokens"?: number;
	"gguf-cache"?: string;
	tokenizer?: string;
	streaming?: boolean;
	ensemble?: boolean;
	"shots-from"?: string;
	"skip-bad"?: boolean;
	"cop-base"?: number;
	bos?: boolean;
	translated?: boolean;
	json?: string;
	markdown?: string;
	"save-prompts"?: string;
	resume?: boolean;
	quiet?: boolean;
	store?: string;
}

/** One evaluateIter() call: a model (or an ensemble) in one weight format. */
interface Run {
	models: string[];
	names: string[];
	quant?: QuantType;
	label: string;
}

function checkCounts(argv: EvalArgs): void {
	for (const [flag, v] of [
		["shots", argv.shots],
		["seeds", argv.seeds],
		["limit", argv.limit],
		["batch", argv.batch],
		["threads", argv.threads],
		["max-tokens", argv["max-tokens"]],
	] as const) {
		if (v !== undefined && (!Number.isInteger(v) || v < (flag === "shots" ? 0 : 1)))
			throw new UsageError(`--${flag} ${v}: expected a ${flag === "shots" ? "non-negative" : "positive"} integer`);
	}
}

/** --quant's comma-separated list; several formats are compared against the exact one (f32), added first when missing. */
function parseQuants(value: string | undefined): QuantType[] {
	if (value === undefined) return [];
	const list = value
		.split(",")
		.map((s) => s.trim().toLowerCase())
		.filter((s) => s !== "");
	for (const q of list) if (!isQuantType(q)) throw new UsageError(`--quant ${q}: expected one of ${QUANT_TYPES.join(", ")}`);
	const quants = [...new Set(list as QuantType[])];
	return quants.length > 1 && !quants.includes("f32") ? ["f32", ...quants] : quants;
}

export function evalCommand(io: Io): CommandModule<object, EvalArgs> {
	return {
		command: "eval <models..>",
		describe: "Score checkpoints on medical multiple-choice QA (the BioMistral protocol), on tfjs or llama.cpp",
		builder: (y) =>
			y
				.positional("models", {
					type: "string",
					array: true,
					demandOption: true,
					description: "Model folders, references, or .gguf files (llama backend)",
				})
				.option("data", { type: "string", demandOption: true, description: "A task file or a folder holding splits" })
				.option("task", {
					alias: "tasks",
					type: "string",
					array: true,
					description:
						`Task names, space- or comma-separated: ${TASK_NAMES.join(", ")}; ` +
						`harness names ${Object.keys(TASK_ALIASES).join(", ")} (default: detected from the data)`,
				})
				.option("mode", { type: "string", choices: ["biomistral", "harness"], default: "biomistral", description: "Scoring protocol" })
				.option("shots", { alias: "num_fewshot", type: "number", description: "Few-shot examples per prompt (default 3; harness 0)" })
				.option("seeds", { type: "number", description: "Number of seeds (shot draws) per item (default 3)" })
				.option("limit", { type: "number", description: "Score only the first N items of each task" })
				.option("batch", { type: "number", description: "Prompts per forward batch" })
				.option("backend", {
					type: "string",
					description:
						`Implementation: ${EVAL_BACKENDS.join(", ")} (tfjs: the float64-checked reference, ` +
						`tfjs-node when installed, else wasm; llama: llama.cpp, the default with --quant)`,
				})
				.option("quant", {
					type: "string",
					description:
						`Weight format(s) for the llama backend, comma-separated: ` +
						`${QUANT_TYPES.join(", ")} (f32 = exact; several = a side-by-side table)`,
				})
				.option("device", { type: "string", description: "Hardware: auto, cpu, cuda (alias gpu) or vulkan [default: auto]" })
				.option("cuda", { type: "boolean", description: "Same as --device cuda" })
				.option("threads", { type: "number", description: "CPU threads (llama backend)" })
				.option("max-tokens", { type: "number", description: "Longest prompt accepted (default: the model's max_position_embeddings)" })
				.option("gguf-cache", { type: "string", description: "Folder for GGUF files converted on the fly (llama backend)" })
				.option("tokenizer", {
					type: "string",
					description: "Folder with tokenizer.json for a model given as a .gguf (default: the file's folder)",
				})
				.option("streaming", {
					type: "boolean",
					description: "tfjs: layer streaming (one layer's weights in memory at a time); default: automatic",
				})
				.option("ensemble", { type: "boolean", description: "Score the models as one ensemble (sum of letter probabilities)" })
				.option("shots-from", { type: "string", description: "File to draw few-shot examples from" })
				.option("skip-bad", {
					type: "boolean",
					description: "Skip malformed records and over-long prompts (reported as warnings) instead of stopping",
				})
				.option("cop-base", { type: "number", choices: [0, 1], description: "MedMCQA: whether `cop` is 0- or 1-based" })
				.option("bos", { type: "boolean", description: "Add BOS (default: the tokenizer's setting; off in harness mode)" })
				.option("translated", { type: "boolean", description: "BioInstructQA: use the translated fields" })
				.option("json", {
					alias: "output_path",
					type: "string",
					description: "Write the JSON report to this file (a folder: <model>.json inside); --json alone prints it instead of the tables",
				})
				.option("markdown", { type: "string", description: "Write the Markdown tables to this file" })
				.option("save-prompts", { type: "string", description: "Write every prompt's text and token ids to this JSONL file" })
				.option("resume", { type: "boolean", description: "Continue an interrupted run from the checkpoint beside its --json report" })
				.option("quiet", { alias: "q", type: "boolean", description: "No progress output" })
				.option("store", {
					type: "string",
					description: "Also append the results to this results store (SQLite, shared with merge sweep)",
				}) as never,
		handler: async (argv) => {
			checkCounts(argv);
			const quants = parseQuants(argv.quant);
			const { notices, ...device } = resolveEvalDevice(argv, { quant: quants.length > 0 });
			for (const notice of notices) io.err(`warning: ${notice}`);
			const downloads = createDownloadRenderer(io, { quiet: argv.quiet === true });
			const resolved: Awaited<ReturnType<typeof resolveModelRef>>[] = [];
			for (const ref of argv.models) resolved.push(await resolveModelRef(ref, { onDownload: (e) => downloads.onEvent(e) }));
			const names = resolved.map((r) => r.repoId ?? undefined);
			const reportFile = argv.json !== undefined && argv.json !== "" ? argv.json : undefined;
			if (argv.resume === true && reportFile === undefined)
				throw new UsageError("--resume needs --json FILE (the checkpoint lives beside the report)");

			const base: Omit<EvaluateOptions, "models"> = {
				data: argv.data,
				...(argv.task !== undefined ? { tasks: argv.task } : {}),
				mode: argv.mode as "biomistral" | "harness",
				...(argv.shots !== undefined ? { shots: argv.shots } : {}),
				...(argv.seeds !== undefined ? { seeds: argv.seeds } : {}),
				...(argv.limit !== undefined ? { limit: argv.limit } : {}),
				...(argv.batch !== undefined ? { batch: argv.batch } : {}),
				...device,
				...(argv.threads !== undefined ? { threads: argv.threads } : {}),
				...(argv["max-tokens"] !== undefined ? { maxTokens: argv["max-tokens"] } : {}),
				...(argv["gguf-cache"] !== undefined ? { cacheDir: argv["gguf-cache"] } : {}),
				...(argv.tokenizer !== undefined ? { tokenizer: argv.tokenizer } : {}),
				...(argv.streaming !== undefined ? { streaming: argv.streaming } : {}),
				...(argv["shots-from"] !== undefined ? { shotsFrom: argv["shots-from"] } : {}),
				...(argv["skip-bad"] === true ? { skipBad: true } : {}),
				...(argv["cop-base"] !== undefined ? { copBase: argv["cop-base"] as 0 | 1 } : {}),
				...(argv.bos !== undefined ? { bos: argv.bos } : {}),
				...(argv.translated === true ? { translated: true } : {}),
			};
			// Several models: one report each (the paper's rows), or one ensemble; each in every weight format asked for.
			const groups = argv.ensemble === true ? [resolved.map((_, i) => i)] : resolved.map((_, i) => [i]);
			const runs: Run[] = groups.flatMap((g) =>
				(quants.length > 0 ? quants : [undefined]).map((quant) => {
					const models = g.map((i) => resolved[i]!.path);
					const given = g.map((i) => names[i]);
					const label = [...given.map((n, k) => n ?? modelName(models[k]!)), ...(quant !== undefined ? [quant] : [])].join("-");
					return {
						models,
						names: given.every((n) => n !== undefined) ? (given as string[]) : [],
						...(quant !== undefined ? { quant } : {}),
						label,
					};
				}),
			);
			const file = reportFile !== undefined ? reportPath(reportFile, runs.length === 1 ? (runs[0]?.label ?? "report") : "eval") : undefined;
			if (file !== undefined) await mkdir(path.dirname(path.resolve(file)), { recursive: true });
			if (quants.length > 1 && quants[0] === "f32" && !argv.quant?.toLowerCase().includes("f32"))
				io.err("note: scoring f32 (the exact mode) too, as the reference for the deviation column");

			const controller = new AbortController();
			let interrupts = 0;
			const onSigint = (): void => {
				interrupts++;
				if (interrupts > 1) process.exit(130);
				io.err("interrupt: writing the report of what is scored so far (Ctrl-C again to quit now)");
				controller.abort();
			};
			process.on("SIGINT", onSigint);
			const reports: EvalReport[] = [];
			const checkpoints: string[] = [];
			try {
				for (const [i, run] of runs.entries()) {
					if (controller.signal.aborted) break;
					const checkpoint = file !== undefined ? checkpointPath(file, i, runs.length, run.label) : undefined;
					const opts: EvaluateOptions = {
						...base,
						models: run.models,
						...(run.names.length > 0 ? { modelNames: run.names } : {}),
						...(run.models.length > 1 ? { ensemble: true } : {}),
						...(run.quant !== undefined ? { quant: run.quant } : {}),
						...(checkpoint !== undefined ? { checkpoint, resume: argv.resume === true } : {}),
						...(argv["save-prompts"] !== undefined && i === 0 ? { savePrompts: argv["save-prompts"] } : {}),
						signal: controller.signal,
					};
					const view = evalProgress(io, argv.quiet === true);
					const startedAt = new Date().toISOString();
					const t0 = performance.now();
					try {
						const gen = evaluateIter(opts);
						for (;;) {
							const r = await gen.next();
							if (r.done === true) {
								reports.push(r.value);
								if (checkpoint !== undefined && !r.value.partial) checkpoints.push(checkpoint);
								if (argv.store !== undefined && !r.value.partial) {
									const timing = {
										seconds: (performance.now() - t0) / 1000,
										startedAt,
										finishedAt: new Date().toISOString(),
										worker: workerId(),
									};
									recordEvaluation(argv.store, r.value, opts, timing);
								}
								break;
							}
							view.onEvent(r.value);
						}
					} finally {
						view.stop();
					}
				}
			} finally {
				process.off("SIGINT", onSigint);
			}
			const reference = quants.length > 1 ? reports.find((r) => r.quant === "f32" && !r.partial) : undefined;
			if (reference !== undefined) for (const r of reports) if (r !== reference) r.deviation_from_exact = letterDeviation(r, reference);
			const json = formatReportJson(reports.length === 1 ? reports[0]! : reports);
			const tables = renderMarkdown(reports) + (quants.length > 1 ? `\n${renderVariantTable(reports, reference)}` : "");
			if (argv.json === "") io.out(json.trimEnd());
			else {
				for (const r of reports) io.out(renderText(r));
				io.out(tables);
			}
			if (file !== undefined) await writeAtomic(file, json);
			if (argv.markdown !== undefined) await writeAtomic(argv.markdown, tables);
			const partial = reports.find((r) => r.partial);
			const interrupted = partial !== undefined || reports.length < runs.length;
			// The report is safely written: the checkpoints have served their purpose, unless --resume will need
			// them (an interrupted command resumes every run from its checkpoint, finished ones included).
			if (!interrupted) for (const c of checkpoints) await rm(c, { force: true });
			if (interrupted) {
				const where = file !== undefined ? `; partial report in ${file}, continue with --resume` : "";
				const scored = partial !== undefined ? ` after ${partial.progress.scored} of ${partial.progress.total} prompts` : "";
				throw new ExecError("Interrupted", `interrupted${scored}${where}`);
			}
		},
	};
}
