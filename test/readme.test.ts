/**
 * The README's examples run as written after the demo (issue 12, item 18). In a scratch folder laid out like a
 * checkout (merges/, examples/ and sweeps/ beside it), this runs `merge demo`, then every ```sh block of the README in
 * order in one bash session (so its `export HF_HUB_CACHE=...` line applies to what follows, as in a terminal),
 * then the ```ts library block as an ES module importing "lm-merge". `merge` is on PATH as `npm link` or an
 * install would put it. Any failing command fails the test with the session's output.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { BIN, cleanEnv, REPO_ROOT } from "./helpers/cli.js";
import { useTempDir } from "./helpers/fs.js";

/** The demo, about a dozen merges of 32-layer stand-ins and a few small evals; generous for a shared machine. */
const README_TIMEOUT_MS = 1_200_000;

/** The bodies of the README's fenced blocks with the given info string, in order. */
function fencedBlocks(markdown: string, lang: string): string[] {
	const out: string[] = [];
	const re = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, "gm");
	for (const m of markdown.matchAll(re)) out.push(m[1]!);
	return out;
}

const root = useTempDir("lm-merge-readme-");
let work: string;
let env: NodeJS.ProcessEnv;
let readme: string;

function bash(script: string): { status: number | null; output: string } {
	const r = spawnSync("bash", ["-c", script], { cwd: work, env, encoding: "utf8", timeout: README_TIMEOUT_MS });
	return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

beforeAll(async () => {
	readme = await readFile(path.join(REPO_ROOT, "README.md"), "utf8");
	work = path.join(root(), "checkout");
	await mkdir(work);
	for (const dir of ["merges", "examples", "sweeps"]) await symlink(path.join(REPO_ROOT, dir), path.join(work, dir));
	// `merge` and `lm-merge` on PATH, and "lm-merge" importable, as after `npm link` or an install.
	const bin = path.join(root(), "bin");
	await mkdir(bin);
	for (const name of ["merge", "lm-merge"]) {
		await writeFile(path.join(bin, name), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
		await chmod(path.join(bin, name), 0o755);
	}
	await mkdir(path.join(work, "node_modules"));
	await symlink(REPO_ROOT, path.join(work, "node_modules", "lm-merge"));
	const base = cleanEnv(work);
	env = { ...base, PATH: `${bin}:${base.PATH}` };
}, README_TIMEOUT_MS);

describe("README examples", () => {
	test("the README has the blocks this test runs", () => {
		expect(fencedBlocks(readme, "sh").length).toBeGreaterThanOrEqual(2);
		expect(fencedBlocks(readme, "ts")).toHaveLength(1);
		expect(readme).toContain('export HF_HUB_CACHE="$PWD/.demo/hf-cache"');
	});

	test(
		"after the demo, every sh block runs as written, then the library example",
		async () => {
			const demo = bash("merge demo");
			expect(demo.status, demo.output).toBe(0);
			// The demo tells the user the line the README documents.
			expect(demo.output).toContain(`next: export HF_HUB_CACHE=${path.join(work, ".demo", "hf-cache")}`);

			const session = fencedBlocks(readme, "sh").join("\n");
			const r = bash(`set -euo pipefail\n${session}`);
			expect(r.status, r.output).toBe(0);
			for (const out of ["merged/BioMistral-7B-SLERP", "merged/bio-slerp", "merged/biomistral-slerp"]) {
				expect(existsSync(path.join(work, out, "model.safetensors")), out).toBe(true);
			}
			expect(existsSync(path.join(work, "slerp.json"))).toBe(true);
			expect(existsSync(path.join(work, "report.json"))).toBe(true);

			const library = path.join(work, "readme-library.mjs");
			await writeFile(library, fencedBlocks(readme, "ts")[0]!);
			const lib = spawnSync(process.execPath, [library], {
				cwd: work,
				env: { ...env, HF_HUB_CACHE: path.join(work, ".demo", "hf-cache") },
				encoding: "utf8",
				timeout: README_TIMEOUT_MS,
			});
			expect(lib.status, `${lib.stdout}\n${lib.stderr}`).toBe(0);
			expect(lib.stdout).toContain("done");
			expect(existsSync(path.join(work, "merged", "ties", "model.safetensors"))).toBe(true);
		},
		README_TIMEOUT_MS,
	);
});
