/**
 * docs/api/ (the API reference, committed so readers on GitHub see it) is what `npm run docs` generates from the
 * current doc comments: TypeDoc runs into a temporary folder with the project's typedoc.json (undocumented names and
 * broken links are errors there) and every page must match the committed one. On failure, run `npm run docs`.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { expect, test } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";
import { useTempDir } from "./helpers/fs.js";

/** TypeDoc takes ~25 s here on a quiet machine (a full type-check of src/); generous for a shared one. */
const TYPEDOC_TIMEOUT_MS = 240_000;

const COMMITTED = path.join(REPO_ROOT, "docs", "api");
const tmp = useTempDir("lm-merge-docs-api-");

/** Every file under `dir`, relative to it, sorted. */
function filesUnder(dir: string): string[] {
	return readdirSync(dir, { recursive: true, withFileTypes: true })
		.filter((e) => e.isFile())
		.map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
		.sort();
}

test(
	"docs/api/ is current (regenerate with `npm run docs`)",
	async () => {
		const out = path.join(tmp(), "api");
		const typedoc = path.join(REPO_ROOT, "node_modules", "typedoc", "bin", "typedoc");
		try {
			await promisify(execFile)(process.execPath, [typedoc, "--out", out, "--logLevel", "Warn"], { cwd: REPO_ROOT, encoding: "utf8" });
		} catch (e) {
			const err = e as { stdout?: string; stderr?: string };
			throw new Error(`typedoc failed (undocumented export or broken link?):\n${err.stdout ?? ""}${err.stderr ?? ""}`);
		}
		const generated = filesUnder(out);
		expect(generated.length).toBeGreaterThan(100);
		expect(filesUnder(COMMITTED), "the committed pages are not the generated ones: run `npm run docs`").toEqual(generated);
		const stale = generated.filter((f) => readFileSync(path.join(out, f), "utf8") !== readFileSync(path.join(COMMITTED, f), "utf8"));
		expect(stale, "these pages differ from the doc comments: run `npm run docs`").toEqual([]);
	},
	TYPEDOC_TIMEOUT_MS,
);
