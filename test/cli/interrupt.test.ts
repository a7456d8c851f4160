import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type CliResult, collect, errorLines, hasStackTrace, spawnCli } from "../helpers/cli.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

/**
 * 8 layers of width 512 (about 37 MB in bf16): a TIES merge of three models onto it takes seconds, so a
 * signal sent at the first progress line always arrives mid-merge. Smaller models could finish first.
 */
const SLOW_SHAPE = { layers: 8, hidden: 512, intermediate: 1024, heads: 8, kvHeads: 4, vocab: 256, dtype: "BF16" as const };

let root: string;
let models: string[];

beforeAll(async () => {
	root = await mkdtemp(path.join(tmpdir(), "lm-merge-cli-int-"));
	const base = path.join(root, "models", "base");
	await writeTinyMistral(base, { ...SLOW_SHAPE, seed: 11 });
	// Copies are as slow to merge as distinct models and much cheaper to make than random ones.
	models = [base];
	for (const name of ["m1", "m2", "m3"]) {
		const dir = path.join(root, "models", name);
		await cp(base, dir, { recursive: true });
		models.push(dir);
	}
});

afterAll(async () => {
	await rm(root, { recursive: true, force: true });
});

/** Starts a TIES merge into `<parent>/out` and sends `signal` once the first tensor is reported. */
async function interruptedMerge(parent: string, signal: NodeJS.Signals): Promise<CliResult> {
	await mkdir(parent, { recursive: true });
	const [base, ...others] = models;
	const args = ["ties", "--base", base!, "--models", ...others, "--weight", "0.3", "--density", "0.5", "--out", path.join(parent, "out")];
	const child = spawnCli(args, { cwd: parent });
	let seen = "";
	let sent = false;
	child.stderr.on("data", (d: Buffer | string) => {
		seen += String(d);
		if (!sent && /^\[1\/\d+\]/m.test(seen)) {
			sent = true;
			child.kill(signal);
		}
	});
	const result = await collect(child);
	expect(sent, `no progress line before exit: ${result.stderr}`).toBe(true);
	return result;
}

describe("an interrupted merge leaves no output", () => {
	test("SIGINT (Ctrl-C): exit 130, one error line, neither the folder nor a .partial-* sibling remains", async () => {
		const parent = path.join(root, "sigint");
		const r = await interruptedMerge(parent, "SIGINT");
		expect(r.exitCode, r.stderr).toBe(130);
		expect(errorLines(r.stderr)).toHaveLength(1);
		expect(errorLines(r.stderr)[0]).toContain("interrupted");
		expect(hasStackTrace(r.stderr)).toBe(false);
		expect(await readdir(parent)).toEqual([]);
	});

	test(
		"SIGKILL: no output folder; the .partial-* sibling is refused by inspect; " + "--resume takes over the stale lock and finishes",
		async () => {
			const parent = path.join(root, "sigkill");
			const r = await interruptedMerge(parent, "SIGKILL");
			expect(r.signal).toBe("SIGKILL");
			expect(existsSync(path.join(parent, "out"))).toBe(false);
			const left = await readdir(parent);
			for (const name of left) expect(name).toMatch(/^out\.(partial-[A-Za-z0-9]{6}|lm-merge\.lock)$/);
			const partial = left.find((n) => n.startsWith("out.partial-"));
			expect(partial).toBeDefined();
			expect(await readdir(path.join(parent, partial!))).not.toContain("model.safetensors");
			const inspect = await collect(spawnCli(["inspect", path.join(parent, partial!)], { cwd: parent }));
			expect(inspect.exitCode).toBe(1);
			expect(errorLines(inspect.stderr)).toEqual([expect.stringContaining("is an unfinished merge (resume with --resume or delete it)")]);
			const [base, ...others] = models;
			const resumed = await collect(
				spawnCli(
					[
						"ties",
						"--base",
						base!,
						"--models",
						...others,
						"--weight",
						"0.3",
						"--density",
						"0.5",
						"--out",
						path.join(parent, "out"),
						"--resume",
					],
					{ cwd: parent },
				),
			);
			expect(errorLines(resumed.stderr), resumed.stderr).toEqual([]);
			expect(resumed.exitCode).toBe(0);
			expect(await readdir(parent)).toEqual(["out"]);
			const out = await collect(spawnCli(["inspect", path.join(parent, "out")], { cwd: parent }));
			expect(out.exitCode).toBe(0);
		},
	);
});
