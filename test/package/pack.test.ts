/**
 * The package installs from a tarball (issue 12, item 21): on a fresh clone (no dist/), `npm pack` must build
 * (the `prepare` script, which also runs for git-URL installs) and the tarball must install into an empty project
 * where `merge --version` runs and the API imports. Offline-friendly: dependencies come from the npm cache that
 * `npm ci` filled (--prefer-offline), the registry only for what is missing. The slowest test of the suite: a full
 * TypeScript build and an install.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { VERSION } from "../../src/version.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { useTempDir } from "../helpers/fs.js";

/** A TypeScript build plus an install of ~60 packages; generous for a shared machine. */
const PACK_TIMEOUT_MS = 300_000;

const root = useTempDir("lm-merge-pack-");
let clone: string;
let consumer: string;
let tarball: string;

function run(cmd: string, args: string[], cwd: string): string {
	return execFileSync(cmd, args, {
		cwd,
		encoding: "utf8",
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, npm_config_update_notifier: "false" },
	});
}

beforeAll(async () => {
	// A fresh clone: the tracked files only (no dist/), with the installed node_modules for the build tools.
	clone = path.join(root(), "clone");
	for (const file of run("git", ["ls-files", "-z"], REPO_ROOT)
		.split("\0")
		.filter((f) => f !== "")) {
		await mkdir(path.dirname(path.join(clone, file)), { recursive: true });
		await cp(path.join(REPO_ROOT, file), path.join(clone, file));
	}
	await symlink(path.join(REPO_ROOT, "node_modules"), path.join(clone, "node_modules"));
	expect(existsSync(path.join(clone, "dist"))).toBe(false);
	const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", root()], clone)) as Array<{ filename: string }>;
	tarball = path.join(root(), packed[0]!.filename);
	consumer = path.join(root(), "consumer");
	await mkdir(consumer);
	await writeFile(
		path.join(consumer, "package.json"),
		JSON.stringify({ name: "consumer", version: "9.9.9", private: true, type: "module" }),
	);
	run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], consumer);
}, PACK_TIMEOUT_MS);

describe("npm pack → npm install", () => {
	test("the tarball holds the compiled library and the launcher", () => {
		const files = run("tar", ["-tzf", tarball], root()).split("\n");
		for (const f of [
			"package/dist/index.js",
			"package/dist/index.d.ts",
			"package/dist/testing.js",
			"package/dist/testing.d.ts",
			"package/dist/errors-entry.js",
			"package/dist/errors-entry.d.ts",
			"package/dist/cli/main.js",
			"package/bin/merge.js",
			"package/merges/biomistral-slerp.yml",
		]) {
			expect(files).toContain(f);
		}
	});

	test("the installed `merge --version` prints lm-merge's version (not the consuming project's)", () => {
		const bin = path.join(consumer, "node_modules", ".bin", "merge");
		expect(run(bin, ["--version"], consumer).trim()).toBe(VERSION);
		expect(run(path.join(consumer, "node_modules", ".bin", "lm-merge"), ["methods", "--json"], consumer)).toContain('"slerp"');
	});

	test("the API imports by package name, with its types", async () => {
		const script =
			'import { mergeModels, parseRecipe, slerp, VERSION } from "lm-merge"; ' +
			"console.log(typeof mergeModels, typeof parseRecipe, slerp(new Float32Array([1, 0]), new Float32Array([0, 1]), 0)[0], VERSION);";
		expect(run(process.execPath, ["--input-type=module", "-e", script], consumer).trim()).toBe(`function function 1 ${VERSION}`);
		const pkg = JSON.parse(await readFile(path.join(consumer, "node_modules", "lm-merge", "package.json"), "utf8")) as {
			types: string;
			exports: Record<string, { types?: string }>;
		};
		expect(existsSync(path.join(consumer, "node_modules", "lm-merge", pkg.types))).toBe(true);
		for (const entry of [".", "./testing", "./errors"]) {
			expect(existsSync(path.join(consumer, "node_modules", "lm-merge", pkg.exports[entry]!.types!)), entry).toBe(true);
		}
	});

	test("lm-merge/testing and lm-merge/errors import by package name; an error thrown by lm-merge is an instance of their class", () => {
		const script = [
			'import { openModel, loadRecipe } from "lm-merge";',
			'import { writeTinyMistral } from "lm-merge/testing";',
			'import { LmMergeError, RecipeError } from "lm-merge/errors";',
			'const m = await writeTinyMistral("tiny", { layers: 1, hidden: 8 });',
			"const src = await openModel(m.dir);",
			"console.log(src.names().length > 0);",
			"await src.close();",
			'const e = await loadRecipe("missing.yml").catch((x) => x);',
			"console.log(e instanceof LmMergeError, e instanceof RecipeError, e.kind);",
		].join("\n");
		expect(run(process.execPath, ["--input-type=module", "-e", script], consumer).trim()).toBe("true\ntrue true Yaml");
	});
});
