/**
 * Spawns the real CLI (`node bin/merge.js`, which runs the compiled dist/cli/main.js) the way a user would,
 * with a clean environment, and collects its output. `npm test` builds first; when running vitest directly,
 * run `npm run build` after changing src/.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeHfCacheModel } from "./tiny-model.js";

/** The repository root (this file is test/helpers/cli.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The launcher the package installs as `merge`. */
export const BIN = path.join(REPO_ROOT, "bin", "merge.js");

/** A generous bound on one CLI run over tiny models; a hung process fails the test instead of stalling the suite. */
const CLI_TIMEOUT_MS = 60_000;

/** Where and how to run the CLI. */
export interface CliOptions {
	/** Working directory (default outputs land in `<cwd>/merged`). */
	cwd: string;
	/** Variables added to the clean environment, e.g. { HF_HUB_CACHE }. */
	env?: Record<string, string>;
	/** Text written to stdin (stdin is closed either way). */
	input?: string;
}

/** What a finished CLI run printed and returned. */
export interface CliResult {
	stdout: string;
	stderr: string;
	exitCode: number | null;
	signal: NodeJS.Signals | null;
}

/**
 * Only what node needs, plus HOME inside `cwd` so no real ~/.config/lm-merge or ~/.cache/huggingface is
 * consulted: a test sees exactly the models and aliases it created. HF_HUB_OFFLINE=1 keeps a missing repo id
 * from reaching for the real Hub; tests of downloads pass HF_HUB_OFFLINE=0 and HF_ENDPOINT (the fake Hub).
 */
export function cleanEnv(cwd: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
	return {
		PATH: process.env.PATH ?? "/usr/bin:/bin",
		HOME: path.join(cwd, ".home"),
		NO_COLOR: "1",
		HF_HUB_OFFLINE: "1",
		...extra,
	};
}

/** Starts the CLI without waiting for it (for interrupt tests). */
export function spawnCli(args: string[], opts: CliOptions): ChildProcessWithoutNullStreams {
	if (!existsSync(path.join(REPO_ROOT, "dist", "cli", "main.js"))) {
		throw new Error(`dist/cli/main.js is missing: run \`npm run build\` in ${REPO_ROOT} first`);
	}
	const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: cleanEnv(opts.cwd, opts.env), stdio: "pipe" });
	child.stdin.end(opts.input ?? "");
	return child;
}

/** Waits for a spawned CLI to exit and returns everything it printed. */
export function collect(child: ChildProcessWithoutNullStreams): Promise<CliResult> {
	let stdout = "";
	let stderr = "";
	child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
	child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			child.kill("SIGKILL");
			reject(new Error(`merge did not finish within ${CLI_TIMEOUT_MS} ms; stderr so far: ${stderr.slice(-500)}`));
		}, CLI_TIMEOUT_MS);
		child.on("error", (err) => {
			clearTimeout(timer);
			reject(err);
		});
		child.on("close", (exitCode, signal) => {
			clearTimeout(timer);
			resolve({ stdout, stderr, exitCode, signal });
		});
	});
}

/** Runs `merge ...args` to completion. */
export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
	return collect(spawnCli(args, opts));
}

/** The lines of stderr that start with `error:`. */
export function errorLines(stderr: string): string[] {
	return stderr.split("\n").filter((l) => l.startsWith("error:"));
}

/** True when the text contains a JavaScript stack frame ("    at fn (file:line:col)"). */
export function hasStackTrace(text: string): boolean {
	return /^\s+at .+[:(]/m.test(text);
}

/** The Hugging Face ids the CLI tests put into their temporary cache (the real lineage, tiny shapes). */
export const CLI_MODELS = {
	base: "mistralai/Mistral-7B-v0.1",
	instruct: "mistralai/Mistral-7B-Instruct-v0.1",
	bio: "BioMistral/BioMistral-7B",
} as const;

/** Two layers of width 16: 21 tensors per model, a few KB, so each CLI run is dominated by node start-up. */
export const CLI_MODEL_SHAPE = { layers: 2, hidden: 16, intermediate: 32, heads: 4, kvHeads: 2, vocab: 64, dtype: "BF16" as const };

/** Tensors of a CLI_MODEL_SHAPE model: embeddings, 9 per layer, final norm, lm_head. */
export const CLI_MODEL_TENSORS = 1 + 9 * CLI_MODEL_SHAPE.layers + 2;

/**
 * Writes base → instruct (base + noise) → bio (instruct + noise) into `cache` laid out as the HF hub cache,
 * so the built-in aliases `mistral` and `biomistral` resolve. Returns the snapshot folders.
 */
export async function writeCliModels(cache: string): Promise<{ base: string; instruct: string; bio: string }> {
	const base = await writeHfCacheModel(cache, CLI_MODELS.base, { ...CLI_MODEL_SHAPE, seed: 1 });
	const instruct = await writeHfCacheModel(cache, CLI_MODELS.instruct, { ...CLI_MODEL_SHAPE, seed: 2, base: base.dir, delta: 0.01 });
	const bio = await writeHfCacheModel(cache, CLI_MODELS.bio, { ...CLI_MODEL_SHAPE, seed: 3, base: instruct.dir, delta: 0.01 });
	return { base: base.dir, instruct: instruct.dir, bio: bio.dir };
}
