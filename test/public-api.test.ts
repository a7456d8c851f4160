/**
 * The public surface (issue 16, item 5): `lm-merge` exports at most 80 names, values and types counted alike, every
 * one documented at its definition; `lm-merge/testing` and `lm-merge/errors` resolve; and every name the README and
 * docs/ import from those entries exists. Names are read with the TypeScript compiler from the entry files, following
 * re-exports, as a user's compiler sees them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import ts from "typescript";
import { beforeAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";

/** The most names `lm-merge` may export (issue 16): a surface a user can read in one sitting. */
const MAX_PUBLIC_NAMES = 80;

/** Each public entry: the specifier users write, its source file, and the compiled file package.json points at. */
const ENTRIES = [
	{ specifier: "lm-merge", exportsKey: ".", src: "src/index.ts", dist: "./dist/index.js" },
	{ specifier: "lm-merge/testing", exportsKey: "./testing", src: "src/testing.ts", dist: "./dist/testing.js" },
	{ specifier: "lm-merge/errors", exportsKey: "./errors", src: "src/errors-entry.ts", dist: "./dist/errors-entry.js" },
] as const;

interface ExportedName {
	name: string;
	isValue: boolean;
	documented: boolean;
	/** Where the name is defined, for messages. */
	definedIn: string;
}

/** The exports of each module file, as the compiler resolves them (re-exports followed to their definitions). */
function exportsOf(files: readonly string[]): Map<string, ExportedName[]> {
	const config = ts.getParsedCommandLineOfConfigFile(
		path.join(REPO_ROOT, "tsconfig.build.json"),
		{},
		{
			...ts.sys,
			onUnRecoverableConfigFileDiagnostic: (d) => {
				throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
			},
		},
	);
	if (config === undefined) throw new Error("cannot read tsconfig.build.json");
	const roots = files.map((f) => path.join(REPO_ROOT, f));
	const program = ts.createProgram(roots, { ...config.options, noEmit: true });
	const checker = program.getTypeChecker();
	const out = new Map<string, ExportedName[]>();
	for (const [i, root] of roots.entries()) {
		const sf = program.getSourceFile(root);
		const moduleSymbol = sf === undefined ? undefined : checker.getSymbolAtLocation(sf);
		if (moduleSymbol === undefined) throw new Error(`${files[i]}: not a module`);
		const names = checker.getExportsOfModule(moduleSymbol).map((sym) => {
			const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
			const decl = target.declarations?.[0];
			return {
				name: sym.name,
				isValue: (target.flags & ts.SymbolFlags.Value) !== 0,
				documented: ts.displayPartsToString(target.getDocumentationComment(checker)).trim() !== "",
				definedIn: decl === undefined ? "?" : path.relative(REPO_ROOT, decl.getSourceFile().fileName),
			};
		});
		out.set(files[i]!, names);
	}
	return out;
}

let exported: Map<string, ExportedName[]>;
const namesOf = (file: string): string[] =>
	exported
		.get(file)!
		.map((e) => e.name)
		.sort();

beforeAll(() => {
	exported = exportsOf([...ENTRIES.map((e) => e.src), "src/errors.ts"]);
});

describe("lm-merge (src/index.ts)", () => {
	test(`exports at most ${MAX_PUBLIC_NAMES} names, values and types alike`, () => {
		const all = exported.get("src/index.ts")!;
		const values = all.filter((e) => e.isValue).length;
		// A lower bound too, so a broken resolution (zero names) cannot pass.
		expect(all.length, `${values} values + ${all.length - values} types`).toBeGreaterThan(50);
		expect(all.length, `${values} values + ${all.length - values} types: ${namesOf("src/index.ts").join(", ")}`).toBeLessThanOrEqual(
			MAX_PUBLIC_NAMES,
		);
	});

	test("at run time, exactly its value exports, each defined", async () => {
		const mod = (await import("../src/index.js")) as Record<string, unknown>;
		const values = exported
			.get("src/index.ts")!
			.filter((e) => e.isValue)
			.map((e) => e.name)
			.sort();
		expect(Object.keys(mod).sort()).toEqual(values);
		expect(Object.entries(mod).filter(([, v]) => v === undefined || v === null)).toEqual([]);
	});

	test("the merge API and the kernels users call are there", async () => {
		const api = await import("../src/index.js");
		for (const fn of [api.mergeModels, api.mergeModelsIter, api.buildPlan, api.runMerge, api.evaluate, api.exportGguf]) {
			expect(typeof fn).toBe("function");
		}
		// slerp at t = 0.5 between two orthogonal unit vectors: both coefficients are sin(π/4)/sin(π/2) = √½.
		const mid = api.slerp(new Float32Array([1, 0]), new Float32Array([0, 1]), 0.5);
		expect(mid[0]).toBeCloseTo(Math.SQRT1_2, 6);
		expect(mid[1]).toBeCloseTo(Math.SQRT1_2, 6);
		// linear with weights 1 and 3 (normalized): (1·2 + 3·6) / 4 = 5.
		expect(api.linear([new Float32Array([2]), new Float32Array([6])], [1, 3])[0]).toBe(5);
	});
});

test("every name of the three entries has a doc comment at its definition (the API reference shows it)", () => {
	const missing = ENTRIES.flatMap((e) =>
		exported
			.get(e.src)!
			.filter((n) => !n.documented)
			.map((n) => `${e.specifier}: ${n.name} (${n.definedIn})`),
	);
	expect(missing).toEqual([]);
});

describe("lm-merge/errors (src/errors-entry.ts)", () => {
	test("exports every error class and kind of src/errors.ts, and nothing else", () => {
		expect(namesOf("src/errors-entry.ts")).toEqual(namesOf("src/errors.ts"));
		expect(namesOf("src/errors-entry.ts")).toContain("RecipeErrorKind");
	});

	test("its classes are the ones the library throws, so instanceof works", async () => {
		const entry = (await import("../src/errors-entry.js")) as Record<string, unknown>;
		const errors = (await import("../src/errors.js")) as Record<string, unknown>;
		expect(Object.keys(entry).length).toBeGreaterThanOrEqual(15);
		for (const [name, cls] of Object.entries(entry)) expect(cls, name).toBe(errors[name]);
		const api = await import("../src/index.js");
		const e = await api.loadRecipe("/nonexistent/recipe.yml").catch((err: unknown) => err);
		expect(e).toBeInstanceOf(entry.LmMergeError as typeof Error);
	});
});

describe("lm-merge/testing (src/testing.ts)", () => {
	test("exports the tiny-checkpoint writers and their types only", () => {
		expect(namesOf("src/testing.ts")).toEqual(
			[
				"HfCacheModel",
				"HfCacheModelOptions",
				"TinyArchitectureOptions",
				"TinyMistralOptions",
				"TinyModel",
				"writeHfCacheModel",
				"writeTinyArchitecture",
				"writeTinyMistral",
				"writeTinyPair",
			].sort(),
		);
	});

	test("a model it writes opens through the public API", async () => {
		const { writeTinyMistral } = await import("../src/testing.js");
		const { openModel } = await import("../src/index.js");
		const dir = await mkdtemp(path.join(tmpdir(), "lm-merge-public-api-"));
		try {
			const tiny = await writeTinyMistral(path.join(dir, "m"), { layers: 1, hidden: 8 });
			const model = await openModel(tiny.dir);
			try {
				expect(model.names()).toContain("model.layers.0.self_attn.q_proj.weight");
			} finally {
				await model.close();
			}
		} finally {
			await rm(dir, { recursive: true, force: true });
		}
	});
});

test("package.json maps each entry to its compiled file and its types", () => {
	const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
		exports: Record<string, { types?: string; import?: string } | string>;
	};
	for (const e of ENTRIES) {
		expect(pkg.exports[e.exportsKey], e.specifier).toEqual({ types: e.dist.replace(/\.js$/, ".d.ts"), import: e.dist });
		// tsconfig.build.json compiles src/X.ts to dist/X.js.
		expect(e.dist.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts")).toBe(e.src);
	}
});

/** `import { a, type B } from "lm-merge..."` statements in Markdown code, with the names they import. */
function docImports(markdown: string): Array<{ specifier: string; names: string[] }> {
	const re = /import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+["'](lm-merge(?:\/[a-z-]+)?)["']/g;
	return [...markdown.matchAll(re)].map((m) => ({
		specifier: m[2]!,
		names: m[1]!
			.split(",")
			.map(
				(n) =>
					n
						.trim()
						.replace(/^type\s+/, "")
						.split(/\s+as\s+/)[0]!,
			)
			.filter((n) => n !== ""),
	}));
}

test("every name README.md and docs/*.md import from lm-merge is exported by that entry", () => {
	const files = [
		"README.md",
		...readdirSync(path.join(REPO_ROOT, "docs"))
			.filter((f) => f.endsWith(".md"))
			.map((f) => `docs/${f}`),
	];
	const problems: string[] = [];
	let checked = 0;
	for (const file of files) {
		for (const { specifier, names } of docImports(readFileSync(path.join(REPO_ROOT, file), "utf8"))) {
			const entry = ENTRIES.find((e) => e.specifier === specifier);
			if (entry === undefined) {
				problems.push(`${file}: imports from "${specifier}", which is not an entry of the package`);
				continue;
			}
			const known = new Set(namesOf(entry.src));
			for (const n of names) {
				checked++;
				if (!known.has(n)) problems.push(`${file}: "${n}" is not exported by ${specifier}`);
			}
		}
	}
	expect(checked).toBeGreaterThan(10);
	expect(problems).toEqual([]);
});
