import yargs, { type Argv } from "yargs";
import { UsageError } from "../errors.js";
import { VERSION } from "../version.js";
import { convertCommand } from "./commands/convert.js";
import { demoCommand } from "./commands/demo.js";
import { downloadCommand } from "./commands/download.js";
import { evalCommand } from "./commands/eval.js";
import { exportCommand } from "./commands/export.js";
import { extractLoraCommand } from "./commands/extract-lora.js";
import { inspectCommand } from "./commands/inspect.js";
import { methodsCommand } from "./commands/methods.js";
import { planCommand } from "./commands/plan.js";
import { quickCommands } from "./commands/quick.js";
import { reportCommand } from "./commands/report.js";
import { runCommand } from "./commands/run.js";
import { sweepCommand } from "./commands/sweep.js";
import { uploadCommand } from "./commands/upload.js";
import { workerCommand } from "./commands/worker.js";
import { type Io, processIo, reportError } from "./output.js";
import { safeIo } from "./printable.js";

/** Runs the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[], rawIo: Io = processIo): Promise<number> {
	// Everything printed goes through one escape of control characters: names in files cannot drive the terminal.
	const io = safeIo(rawIo);
	const debug = argv.includes("--debug");
	// `merge inspect big | head`: a closed pipe ends the output quietly instead of crashing with EPIPE.
	if (rawIo === processIo) process.stdout.once("error", (err: NodeJS.ErrnoException) => process.exit(err.code === "EPIPE" ? 0 : 1));
	let exitCode = 0;
	let usage: string | undefined;
	const parser: Argv = yargs(argv)
		.scriptName("merge")
		.usage("$0 <command> [options]\n\nMerge LLM checkpoints stored as safetensors, and score them.")
		.option("debug", { type: "boolean", description: "Show stack traces on errors", global: true })
		.command(runCommand(io))
		.command(planCommand(io))
		.command(inspectCommand(io))
		.command(methodsCommand(io))
		.command(evalCommand(io))
		.command(exportCommand(io))
		.command(demoCommand(io))
		.command(downloadCommand(io))
		.command(uploadCommand(io))
		.command(sweepCommand(io))
		.command(workerCommand(io))
		.command(reportCommand(io));
	for (const c of quickCommands(io)) parser.command(c);
	parser.command(convertCommand(io));
	parser.command(extractLoraCommand(io));
	parser
		.demandCommand(1, "name a command (merge --help lists them)")
		.recommendCommands()
		.strict()
		.help()
		.alias("h", "help")
		// The library's own version: yargs' default reads the nearest package.json, which in an installed copy is
		// the project that depends on lm-merge.
		.version(VERSION)
		.wrap(Math.min(110, process.stdout.columns ?? 100))
		.exitProcess(false)
		.fail((msg, err) => {
			if (err !== undefined && err !== null) throw err;
			// Throwing stops yargs here: returning would let it run the command's handler anyway.
			usage = msg;
			throw new UsageError(msg);
		});
	try {
		await parser.parseAsync();
		if (usage !== undefined) throw new UsageError(usage);
	} catch (err) {
		exitCode = reportError(io, err, debug);
		if (err instanceof UsageError) io.err("(run with --help for usage)");
	}
	return exitCode !== 0 ? exitCode : ((process.exitCode as number | undefined) ?? 0);
}
