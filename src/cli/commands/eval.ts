import { writeFile } from "node:fs/promises";
import cliProgress from "cli-progress";
import type { CommandModule } from "yargs";
import { evaluateIter, recordEvaluation, renderMarkdown, renderText, resolveModelRef, TASK_NAMES, UsageError, workerId, type Device, type EvalEvent, type EvalReport, type EvaluateOptions } from "../../index.js";
import { createDownloadRenderer } from "../hub-render.js";
import type { Io } from "../output.js";
import { printable } from "../printable.js";
import { resolveEvalDevice } from "../device.js";

interface EvalArgs {
	models: string[];
	data: string;
	task?: string[];
	mode?: string;
	shots?: number;
	seeds?: number;
	limit?: number;
	batch?: number;
	device?: string;
	backend?: string;
	cuda?: boolean;
	streaming?: boolean;
	ensemble?: boolean;
	"shots-from"?: string;
	"skip-bad"?: boolean;
	"cop-base"?: number;
	bos?: boolean;
	translated?: boolean;
	json?: string;
	markdown?: string;
	quiet?: boolean;
	store?: string;
}

/** Renders evaluator progress: a bar with items/s and ETA on a TTY, a line every ~10 % otherwise. */
function progress(io: Io, quiet: boolean): { onEvent(e: EvalEvent): void; stop(): void } {
	let bar: cliProgress.SingleBar | undefined;
	let lastPct = -1;
	const started = Date.now();
	return {
		stop: () => bar?.stop(),
		onEvent(e) {
			if (e.event === "warning") {
				io.err(`warning: ${printable(e.message)}`);
				return;
			}
			if (quiet) return;
			if (e.event === "start") {
				io.err(`scoring ${e.total} prompts (${e.tasks.join(", ")}) with ${e.models.join(", ")}`);
				if (io.isTty) {
					bar = new cliProgress.SingleBar(
						{ format: "{bar} {percentage}% | {value}/{total} prompts | {rate} items/s | ETA {eta_formatted}", stream: process.stderr, hideCursor: true },
						cliProgress.Presets.shades_classic,
					);
					bar.start(e.total, 0, { rate: "0.0" });
				}
			} else if (e.event === "model") {
				if (bar === undefined) io.err(`model ${e.index + 1}: ${e.path}`);
			} else if (e.event === "item") {
				const rate = (e.done / Math.max(1e-3, (Date.now() - started) / 1000)).toFixed(1);
				if (bar !== undefined) bar.update(e.done, { rate });
				else {
					const pct = Math.floor((10 * e.done) / Math.max(1, e.total));
					if (pct !== lastPct) {
						lastPct = pct;
						io.err(`[${e.done}/${e.total}] ${rate} items/s`);
					}
				}
			}
		},
	};
}

export function evalCommand(io: Io): CommandModule<object, EvalArgs> {
	return {
		command: "eval <models..>",
		describe: "Score checkpoints on medical multiple-choice QA (the BioMistral protocol)",
		builder: (y) =>
			y
				.positional("models", { type: "string", array: true, demandOption: true, description: "Model folders or references" })
				.option("data", { type: "string", demandOption: true, description: "A task file or a folder holding splits" })
				.option("task", { alias: "tasks", type: "string", array: true, description: `Task name(s): ${TASK_NAMES.join(", ")} (default: detected from the data)` })
				.option("mode", { type: "string", choices: ["biomistral", "harness"], default: "biomistral", description: "Scoring protocol" })
				.option("shots", { type: "number", description: "Few-shot examples per prompt (default 3; harness 0)" })
				.option("seeds", { type: "number", description: "Number of seeds (shot draws) per item (default 3)" })
				.option("limit", { type: "number", description: "Score only the first N items of each task" })
				.option("batch", { type: "number", description: "Prompts per forward batch" })
				.option("device", { type: "string", description: "Hardware: auto, cpu, cuda (alias gpu; needs @tensorflow/tfjs-node-gpu) or vulkan [default: auto]" })
				.option("backend", { type: "string", description: "Implementation: tfjs (tfjs-node when installed, else wasm), or a pinned engine: tfjs-wasm, tfjs-node, tfjs-cpu [default: tfjs]" })
				.option("cuda", { type: "boolean", description: "Same as --device cuda" })
				.option("streaming", { type: "boolean", description: "Layer-streaming (one layer's weights in memory at a time); default: automatic" })
				.option("ensemble", { type: "boolean", description: "Score the models as one ensemble (sum of letter probabilities)" })
				.option("shots-from", { type: "string", description: "File to draw few-shot examples from" })
				.option("skip-bad", { type: "boolean", description: "Skip malformed records (reported as warnings) instead of stopping" })
				.option("cop-base", { type: "number", choices: [0, 1], description: "MedMCQA: whether `cop` is 0- or 1-based" })
				.option("bos", { type: "boolean", description: "Add BOS (default: the tokenizer's setting; off in harness mode)" })
				.option("translated", { type: "boolean", description: "BioInstructQA: use the translated fields" })
				.option("json", { type: "string", description: "Write the full JSON report to this file (--json alone: print it on stdout instead of the tables)" })
				.option("markdown", { type: "string", description: "Write the Markdown table to this file" })
				.option("quiet", { alias: "q", type: "boolean", description: "No progress output" })
				.option("store", { type: "string", description: "Also append the results to this results store (SQLite, shared with merge sweep)" }) as never,
		handler: async (argv) => {
			for (const [flag, v] of [["shots", argv.shots], ["seeds", argv.seeds], ["limit", argv.limit], ["batch", argv.batch]] as const) {
				if (v !== undefined && (!Number.isInteger(v) || v < (flag === "shots" ? 0 : 1))) throw new UsageError(`--${flag} ${v}: expected a ${flag === "shots" ? "non-negative" : "positive"} integer`);
			}
			const hardware = resolveEvalDevice(argv);
			for (const notice of hardware.notices) io.err(`warning: ${notice}`);
			const downloads = createDownloadRenderer(io, { quiet: argv.quiet === true });
			const dirs: string[] = [];
			for (const ref of argv.models) dirs.push((await resolveModelRef(ref, { onDownload: (e) => downloads.onEvent(e) })).path);
			const base: Omit<EvaluateOptions, "models"> = {
				data: argv.data,
				...(argv.task !== undefined ? { tasks: argv.task } : {}),
				mode: argv.mode as "biomistral" | "harness",
				...(argv.shots !== undefined ? { shots: argv.shots } : {}),
				...(argv.seeds !== undefined ? { seeds: argv.seeds } : {}),
				...(argv.limit !== undefined ? { limit: argv.limit } : {}),
				...(argv.batch !== undefined ? { batch: argv.batch } : {}),
				device: hardware.tfjsDevice,
				...(argv.streaming !== undefined ? { streaming: argv.streaming } : {}),
				...(argv["shots-from"] !== undefined ? { shotsFrom: argv["shots-from"] } : {}),
				...(argv["skip-bad"] === true ? { skipBad: true } : {}),
				...(argv["cop-base"] !== undefined ? { copBase: argv["cop-base"] as 0 | 1 } : {}),
				...(argv.bos !== undefined ? { bos: argv.bos } : {}),
				...(argv.translated === true ? { translated: true } : {}),
			};
			// Several models: one report each (the paper's rows), or one ensemble report with --ensemble.
			const runs = argv.ensemble === true ? [{ ...base, models: dirs, ensemble: true }] : dirs.map((d) => ({ ...base, models: [d] }));
			const reports: EvalReport[] = [];
			for (const opts of runs) {
				const view = progress(io, argv.quiet === true);
				const startedAt = new Date().toISOString();
				const t0 = performance.now();
				try {
					const gen = evaluateIter(opts);
					for (;;) {
						const r = await gen.next();
						if (r.done === true) {
							reports.push(r.value);
							if (argv.store !== undefined) {
								const timing = { seconds: (performance.now() - t0) / 1000, startedAt, finishedAt: new Date().toISOString(), worker: workerId() };
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
			const json = `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`;
			if (argv.json === "") {
				io.out(json.trimEnd());
			} else {
				for (const r of reports) io.out(renderText(r));
				io.out(renderMarkdown(reports));
				if (argv.json !== undefined) await writeFile(argv.json, json);
			}
			if (argv.markdown !== undefined) await writeFile(argv.markdown, renderMarkdown(reports));
		},
	};
}
