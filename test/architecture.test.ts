/**
 * The dependency direction of DESIGN.md, enforced: every import in src/ is checked against what its
 * module may depend on. A failure lists each offending file, line and import.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, test } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";

const SRC = path.join(REPO_ROOT, "src");

/**
 * Which src modules (top-level folders, or top-level files without extension) each module may import.
 * A module may always import its own files. `index`, `testing` and `errors-entry` are the public entries: examples/
 * (and users) go through them; nothing in src/ imports them.
 */
const ALLOWED_MODULES: Record<string, readonly string[]> = {
	errors: [],
	version: [],
	suggest: [],
	// Finding self-referencing anchors in parsed YAML (recipes, the alias file): pure, no imports.
	cycles: [],
	// Starting a worker thread from its script beside the caller (compiled JS, or TypeScript under tsx).
	"worker-script": [],
	// Debug assertions (LM_MERGE_DEBUG=1): a helper anyone below the CLI may use, like errors.
	"debug-assert": ["errors"],
	// Chat templates shipped as data (chatml, llama3, ...), selected by name in recipes.
	"chat-templates": [],
	tensor: ["errors"],
	// The compiled kernels and their per-thread arena: a compute primitive below methods and exec, like tensor.
	wasm: ["errors"],
	io: ["tensor", "errors"],
	// Model folders, references and config.json: the folder-level half of io.
	model: ["io", "tensor", "errors", "hub", "cycles"],
	// Hugging Face Hub downloads into the shared cache, uploads, tokens: knows nothing of merging.
	hub: ["errors"],
	// Pure math: never io, recipe, plan, backends, exec or cli.
	methods: ["tensor", "wasm", "errors", "suggest", "debug-assert"],
	backends: ["methods", "tensor", "errors", "tfjs"],
	// The one tfjs loader, below the merge backends and the evaluator (tfjs keeps one global engine).
	tfjs: ["errors"],
	// The YAML's shape only; it knows no method and no file format beyond dtype names.
	recipe: ["errors", "io/dtypes", "suggest", "io/regular-file", "cycles", "chat-templates"],
	arch: ["io/dtypes", "errors"],
	// Tokenizer vocabularies: read, strip, union, row maps (tokenizer files only; no tensors, no merging).
	vocab: ["errors"],
	// Headers only: it may open models, but reads no tensor data (reviewed, not checked here).
	plan: ["recipe", "methods", "arch", "io", "model", "tensor", "errors", "suggest", "chat-templates", "lora", "vocab"],
	exec: [
		"plan",
		"io",
		"backends",
		"methods",
		"recipe",
		"model",
		"tensor",
		"wasm",
		"errors",
		"version",
		"chat-templates",
		"lora",
		"vocab",
		"worker-script",
	],
	// The evaluator scores any checkpoint: never methods, plan or exec; gguf for the llama backend's conversions.
	eval: ["io", "model", "tensor", "arch", "errors", "version", "gguf", "tfjs"],
	fixtures: ["io", "model", "tensor", "arch", "errors"],
	// The public entries: `lm-merge` (index.ts, at most 80 names), `lm-merge/testing`, `lm-merge/errors`.
	index: [
		"errors",
		"version",
		"tensor",
		"io",
		"model",
		"methods",
		"backends",
		"recipe",
		"plan",
		"exec",
		"eval",
		"hub",
		"report",
		"sweep",
		"lora",
		"gguf",
	],
	testing: ["fixtures"],
	"errors-entry": ["errors"],
	// Report pages know the evaluator's report shapes, its calibration bins and task names: nothing that runs a model.
	report: ["eval/types", "eval/score", "eval/tasks/registry", "errors"],
	// Sweeps drive merges and evaluations through the library's entry points (recipe, mergeModels, evaluate, report
	// tables), like a user's script; not through index.ts, which re-exports sweep/ (that would be an import loop).
	sweep: ["recipe/load", "exec/merge-models", "eval", "report", "errors"],
	// LoRA adapters: applying one to a model (a TensorSource wrapper) and extracting one from two models.
	lora: ["io", "model", "tensor", "errors"],
	// Model folder → GGUF for llama.cpp: reads models like the evaluator does, knows nothing of merging; its
	// compiled encoders live in the wasm module (a compute primitive, like tensor).
	gguf: ["io", "model", "tensor", "arch", "errors", "wasm", "worker-script"],
	// The top layer, an internal caller: it imports the library's modules directly (it needs far more than the
	// public entries offer, which stay small for users); examples/ go through the public entries (test below).
	cli: [
		"errors",
		"version",
		"tensor",
		"io",
		"model",
		"arch",
		"methods",
		"backends",
		"recipe",
		"plan",
		"exec",
		"eval",
		"fixtures",
		"hub",
		"report",
		"sweep",
		"lora",
		"gguf",
	],
};

/** npm packages the CLI may use besides node: built-ins (it parses arguments and renders; the library does the rest). */
const CLI_PACKAGES = ["yargs", "yaml", "cli-progress"];

/** tfjs is heavy and optional: only its loader, the kernel backends and the evaluator touch it. */
const TFJS_MODULES = ["tfjs", "backends", "eval"];

/** The Hub client library is used in one place, so its API changes touch one folder. */
const HUB_CLIENT_MODULES = ["hub"];

/** "src/plan/plan.ts" → "plan"; "src/index.ts" → "index". */
function moduleOf(srcRelative: string): string {
	const [first, ...rest] = srcRelative.split("/");
	return rest.length === 0 ? first!.replace(/\.ts$/, "") : first!;
}

/** Whether `target` (src-relative, no extension) is covered by an allowed entry ("io" or "io/dtypes"). */
function allows(entries: readonly string[], target: string): boolean {
	return entries.some((e) => target === e || target.startsWith(`${e}/`) || moduleOf(`${target}.ts`) === e);
}

/** Why `spec`, imported by src-relative `file`, breaks the rules; undefined when it is allowed. */
function checkImport(file: string, spec: string): string | undefined {
	const from = moduleOf(file);
	const allowed = ALLOWED_MODULES[from];
	if (allowed === undefined) return `module "${from}" has no rule in ALLOWED_MODULES (add one, following DESIGN.md)`;
	if (spec.startsWith(".")) {
		const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.(js|ts)$/, "");
		if (target.startsWith("..")) return `imports from outside src/`;
		const to = moduleOf(`${target}.ts`);
		if (to === from || allows(allowed, target)) return undefined;
		return `${from} may not import ${to} (allowed: ${allowed.join(", ") || "nothing"})`;
	}
	if (spec.startsWith("node:")) return undefined;
	if (spec.startsWith("@tensorflow/") && !TFJS_MODULES.includes(from)) return `only ${TFJS_MODULES.join(" and ")} may load tfjs`;
	if (spec.startsWith("@huggingface/hub") && !HUB_CLIENT_MODULES.includes(from))
		return `only ${HUB_CLIENT_MODULES.join(", ")} may use @huggingface/hub`;
	if (from === "cli" && !CLI_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`))) {
		return `the CLI may only use ${CLI_PACKAGES.join(", ")} and node: built-ins`;
	}
	return undefined;
}

function sourceFiles(dir: string): string[] {
	return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
		const full = path.join(dir, e.name);
		if (e.isDirectory()) return sourceFiles(full);
		return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [full] : [];
	});
}

/** Every import/export-from/import() of a file, with its line, as TypeScript's own pre-processor sees them. */
function importsOf(file: string): Array<{ spec: string; line: number }> {
	const text = readFileSync(file, "utf8");
	return ts.preProcessFile(text, true, true).importedFiles.map((f) => ({
		spec: f.fileName,
		line: text.slice(0, f.pos).split("\n").length,
	}));
}

describe("checkImport", () => {
	test.each([
		["methods/linear.ts", "../io/reader.js"],
		["methods/ties.ts", "../plan/plan.js"],
		["methods/slerp.ts", "../backends/cpu.js"],
		["eval/forward.ts", "../methods/linear.js"],
		["eval/score.ts", "../exec/run.js"],
		["io/reader.ts", "../recipe/schema.js"],
		["recipe/load.ts", "../io/reader.js"],
		["recipe/schema.ts", "../methods/registry.js"],
		["cli/commands/run.ts", "../../index.js"],
		["cli/commands/demo.ts", "../../testing.js"],
		["cli/commands/run.ts", "../../wasm/kernels.js"],
		["exec/run.ts", "../index.js"],
		["fixtures/tiny-model.ts", "../testing.js"],
		["testing.ts", "./methods/ties.js"],
		["errors-entry.ts", "./io/reader.js"],
		["cli/main.ts", "zod"],
		["plan/plan.ts", "../index.js"],
		["io/reader.ts", "@tensorflow/tfjs"],
		["newthing/x.ts", "../errors.js"],
		["hub/download.ts", "../model/refs.js"],
		["hub/download.ts", "../io/reader.js"],
		["model/refs.ts", "@huggingface/hub"],
		["sweep/trial.ts", "../index.js"],
		["sweep/trial.ts", "../plan/plan.js"],
		["report/html.ts", "../eval/evaluate.js"],
		["report/charts.ts", "../sweep/store.js"],
		["eval/report.ts", "../report/html.js"],
	])("%s → %s is forbidden", (file, spec) => {
		expect(checkImport(file, spec)).toBeDefined();
	});

	test.each([
		["methods/ties.ts", "./task-arithmetic.js"],
		["methods/linear.ts", "../tensor/ops.js"],
		["recipe/schema.ts", "../io/dtypes.js"],
		["cli/commands/run.ts", "../../plan/plan.js"],
		["cli/commands/run.ts", "../merge-flags.js"],
		["cli/main.ts", "yargs"],
		["cli/output.ts", "node:fs/promises"],
		["exec/run.ts", "../plan/types.js"],
		["tfjs/loader.ts", "@tensorflow/tfjs"],
		["index.ts", "./exec/run.js"],
		["testing.ts", "./fixtures/tiny-model.js"],
		["errors-entry.ts", "./errors.js"],
		["model/refs.ts", "../hub/download.js"],
		["hub/download.ts", "@huggingface/hub"],
		["sweep/trial.ts", "../exec/merge-models.js"],
		["report/calibration.ts", "../eval/score.js"],
	])("%s → %s is allowed", (file, spec) => {
		expect(checkImport(file, spec)).toBeUndefined();
	});
});

test("src/ follows the dependency direction of DESIGN.md", () => {
	const files = sourceFiles(SRC);
	expect(files.length).toBeGreaterThan(50);
	const violations: string[] = [];
	for (const file of files) {
		const rel = path.relative(SRC, file).split(path.sep).join("/");
		for (const { spec, line } of importsOf(file)) {
			const why = checkImport(rel, spec);
			if (why !== undefined) violations.push(`src/${rel}:${line} imports "${spec}": ${why}`);
		}
	}
	expect(violations).toEqual([]);
});

/**
 * methods/compat (the `compat: mergekit` kernels) is a second, independent implementation of the methods: it may use
 * its own folder, the method types, the task-vector engine's vocabulary (types.ts: the stream purpose), tensor/ and
 * errors, never the float32 kernels, so they can be reorganised without touching it.
 */
const COMPAT_ALLOWED = ["methods/compat/", "methods/types", "methods/task-vector/types", "tensor/", "errors"];

test("methods/compat imports only its own folder, methods/types, methods/task-vector/types, tensor and errors", () => {
	const dir = path.join(SRC, "methods", "compat");
	const violations: string[] = [];
	for (const file of sourceFiles(dir)) {
		const rel = path.relative(SRC, file).split(path.sep).join("/");
		for (const { spec, line } of importsOf(file)) {
			const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)).replace(/\.(js|ts)$/, "");
			if (!COMPAT_ALLOWED.some((a) => target === a || target.startsWith(a))) violations.push(`src/${rel}:${line} imports "${spec}"`);
		}
	}
	expect(sourceFiles(dir).length).toBeGreaterThan(5);
	expect(violations).toEqual([]);
});

/** Every import of the src files under `dir`, resolved to src-relative targets without extension. */
function resolvedImports(dir: string): Array<{ file: string; line: number; spec: string; target: string }> {
	return sourceFiles(dir).flatMap((file) => {
		const rel = path.relative(SRC, file).split(path.sep).join("/");
		return importsOf(file)
			.filter(({ spec }) => spec.startsWith("."))
			.map(({ spec, line }) => ({
				file: rel,
				line,
				spec,
				target: path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)).replace(/\.(js|ts)$/, ""),
			}));
	});
}

/**
 * Which loop runs is the task-vector engine's business (its KernelSet) and SLERP's: no other method file reaches
 * for the compiled kernels, so a reader of ties.ts or linear.ts never wonders about them.
 */
const WASM_USERS_IN_METHODS = ["methods/task-vector/", "methods/slerp.ts"];

test("inside methods/, only the task-vector engine and slerp.ts import wasm/", () => {
	const imports = resolvedImports(path.join(SRC, "methods"));
	const violations = imports
		.filter(({ file, target }) => target.startsWith("wasm/") && !WASM_USERS_IN_METHODS.some((w) => file.startsWith(w)))
		.map(({ file, line, spec }) => `src/${file}:${line} imports "${spec}"`);
	expect(imports.some(({ target }) => target.startsWith("wasm/"))).toBe(true);
	expect(violations).toEqual([]);
});

/** The engine's entries: index.ts for its users, types.ts (facts only) for the mergekit-compat kernels. */
const ENGINE = "methods/task-vector/";
const ENGINE_ENTRIES = ["methods/task-vector/index", "methods/task-vector/types"];

test("outside the task-vector engine, src/ imports it only through its index.ts (or types.ts)", () => {
	const imports = resolvedImports(SRC).filter(({ file, target }) => !file.startsWith(ENGINE) && target.startsWith(ENGINE));
	const violations = imports
		.filter(({ target }) => !ENGINE_ENTRIES.includes(target))
		.map(({ file, line, spec }) => `src/${file}:${line} imports "${spec}"`);
	expect(imports.length).toBeGreaterThan(5);
	expect(violations).toEqual([]);
});

/** What examples/ may import from src/: the public entries, which their header comments map to package names. */
const PUBLIC_ENTRIES: Record<string, string> = {
	"src/index": "lm-merge",
	"src/testing": "lm-merge/testing",
	"src/errors-entry": "lm-merge/errors",
};

/** Whether an example (`examples/X.ts`) may import `spec`: node built-ins and the public entries only. */
function exampleMayImport(spec: string): boolean {
	if (spec.startsWith("node:")) return true;
	if (!spec.startsWith(".")) return false;
	return path.posix.join("examples", spec).replace(/\.(js|ts)$/, "") in PUBLIC_ENTRIES;
}

test.each([
	["../src/index.js", true],
	["../src/testing.js", true],
	["../src/errors-entry.js", true],
	["node:path", true],
	["../src/io/reader.js", false],
	["../src/fixtures/tiny-model.js", false],
	["../src/errors.js", false],
	["yaml", false],
])("an example importing %s is allowed: %s", (spec, allowed) => {
	expect(exampleMayImport(spec)).toBe(allowed);
});

test("examples/ import the library only through its public entries (lm-merge, lm-merge/testing, lm-merge/errors)", () => {
	const files = sourceFiles(path.join(REPO_ROOT, "examples"));
	const violations = files.flatMap((file) =>
		importsOf(file)
			.filter(({ spec }) => !exampleMayImport(spec))
			.map(({ spec, line }) => `${path.relative(REPO_ROOT, file)}:${line} imports "${spec}"`),
	);
	expect(files.length).toBeGreaterThanOrEqual(3);
	expect(violations).toEqual([]);
});
