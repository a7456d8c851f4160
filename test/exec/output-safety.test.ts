/**
 * Issue 12's output-safety items through the library's merge API: inputs reached through symlinks or a Hugging
 * Face cache are never overwritten, one run per output, resume leaves no orphan, an unfinished merge never opens
 * as a model, the saved recipe reproduces the output, and outputs get normal permissions.
 */

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { ExecError, ModelError, PlanError } from "../../src/errors.js";
import { mergeModels, mergeModelsIter } from "../../src/exec/merge-models.js";
import { drainMerge, runMerge } from "../../src/exec/run.js";
import { PROGRESS_FILE } from "../../src/io/output-folder.js";
import { openModel } from "../../src/model/model-dir.js";
import { buildPlan, closePlan } from "../../src/plan/plan.js";
import { loadRecipe, parseRecipe } from "../../src/recipe/load.js";
import { rejected } from "../helpers/errors.js";
import { exists, useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-outsafe-");
let A: string;
let B: string;

beforeAll(async () => {
	A = path.join(root(), "a");
	B = path.join(root(), "b");
	await writeTinyMistral(A, { seed: 1, layers: 2, hidden: 32, intermediate: 48, heads: 4, kvHeads: 2 });
	await writeTinyMistral(B, { seed: 2, base: A, delta: 0.01 });
});

/** sha256 of every file of a folder, by name (symlinks followed). */
async function digest(dir: string, filter: (f: string) => boolean = () => true): Promise<Record<string, string>> {
	const out: Record<string, string> = {};
	for (const f of (await readdir(dir)).sort())
		if (filter(f))
			out[f] = createHash("sha256")
				.update(await readFile(path.join(dir, f)))
				.digest("hex");
	return out;
}
const weights = (f: string) => f.endsWith(".safetensors") || f.endsWith(".index.json");

const linear = (a: string, b: string) =>
	`merge_method: linear\nmodels: [{model: ${a}, parameters: {weight: 0.5}}, {model: ${b}, parameters: {weight: 0.5}}]\n`;
const dare = (seed: number) =>
	`merge_method: dare_ties\nbase_model: ${A}\nmodels: [{model: ${B}, parameters: {weight: 0.7, density: 0.4}}]\nseed: ${seed}\n`;

/** Runs a resumable merge and stops it after `tensors` tensors; returns the partial folder it left. */
async function interrupted(out: string, yaml: string, opts: { shardSize?: number; tensors?: number } = {}): Promise<string> {
	const controller = new AbortController();
	let seen = 0;
	const run = async () => {
		for await (const e of mergeModelsIter(parseRecipe(yaml), {
			out,
			threads: 1,
			resume: true,
			signal: controller.signal,
			...(opts.shardSize !== undefined ? { shardSize: opts.shardSize } : {}),
		})) {
			if (e.event === "tensor" && ++seen >= (opts.tensors ?? 1)) controller.abort();
		}
	};
	expect((await rejected(run(), ExecError)).kind).toBe("Interrupted");
	const partials = (await readdir(path.dirname(out))).filter((f) => f.startsWith(`${path.basename(out)}.partial-`));
	expect(partials).toHaveLength(1);
	return path.join(path.dirname(out), partials[0]!);
}

describe("inputs are never overwritten", () => {
	test("an input named through a symlink is refused as the output, even with force, and keeps its bytes", async () => {
		const copy = path.join(root(), "sym", "A");
		await mkdir(path.dirname(copy), { recursive: true });
		await writeTinyMistral(copy, { seed: 5, layers: 1, hidden: 32, intermediate: 48, heads: 4, kvHeads: 2 });
		const link = path.join(root(), "sym", "Alink");
		await symlink(copy, link);
		const before = await digest(copy);
		const e = await rejected(mergeModels(parseRecipe(linear(link, link)), { out: copy, force: true }), PlanError);
		expect(e.kind).toBe("OutputInsideInput");
		expect(e.message).toContain(copy);
		expect(await digest(copy)).toEqual(before);
		expect(await readdir(path.dirname(copy))).toEqual(["A", "Alink"]);
	});

	test("a Hugging Face cache snapshot (files symlinked into blobs/) protects blobs/ too", async () => {
		const repo = path.join(root(), "hf", "models--org--tiny");
		const snapshot = path.join(repo, "snapshots", "0123abcd");
		const blobs = path.join(repo, "blobs");
		await writeTinyMistral(snapshot, { seed: 6, layers: 1, hidden: 32, intermediate: 48, heads: 4, kvHeads: 2 });
		await mkdir(blobs);
		for (const f of await readdir(snapshot)) {
			const blob = createHash("sha256").update(f).digest("hex");
			await rename(path.join(snapshot, f), path.join(blobs, blob));
			await symlink(path.join("..", "..", "blobs", blob), path.join(snapshot, f));
		}
		const before = await digest(blobs);
		for (const out of [blobs, repo]) {
			const e = await rejected(mergeModels(parseRecipe(linear(snapshot, snapshot)), { out, force: true }), PlanError);
			expect(e.kind, out).toBe("OutputInsideInput");
		}
		expect(await digest(blobs)).toEqual(before);
	});

	test.each([
		["", "empty"],
		[".", "ending in"],
		[process.cwd(), "current folder"],
		[path.dirname(process.cwd()), "contains the current folder"],
		["/", "root"],
	])("out %j is refused before anything is written (%s)", async (out, says) => {
		const e = await rejected(mergeModels(parseRecipe(linear(A, B)), { out }), PlanError);
		expect(e.kind).toBe("UnsafeOutput");
		expect(e.message).toContain(says);
	});
});

describe("one run per output; resume", () => {
	test("a second --resume run of the same output is refused with the owner's pid while the first runs", async () => {
		const out = path.join(root(), "twice");
		const first = mergeModelsIter(parseRecipe(dare(3)), { out, threads: 1, resume: true, shardSize: 20_000 });
		expect((await first.next()).value).toMatchObject({ event: "planned" });
		const e = await rejected(mergeModels(parseRecipe(dare(3)), { out, resume: true, shardSize: 20_000 }), ExecError);
		expect(e.kind).toBe("Locked");
		expect(e.message).toContain(`pid ${process.pid}`);
		await drainMerge(first);
		await (await openModel(out)).close();
		expect((await readdir(root())).filter((f) => f.startsWith("twice"))).toEqual(["twice"]);
	});

	test("a lock left by a killed run (its pid no longer runs) does not block the next run", async () => {
		const out = path.join(root(), "stale-lock");
		const dead = Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
		await writeFile(`${out}.lm-merge.lock`, JSON.stringify({ pid: dead, host: os.hostname(), since: "2026-01-01T00:00:00Z", nonce: "k9" }));
		await mergeModels(parseRecipe(linear(A, B)), { out });
		expect((await readdir(root())).filter((f) => f.startsWith("stale-lock"))).toEqual(["stale-lock"]);
	});

	test("a corrupt progress record: --resume starts over in that folder and leaves no orphan; the result matches a clean run", async () => {
		const clean = path.join(root(), "clean-dare");
		await mergeModels(parseRecipe(dare(3)), { out: clean, shardSize: 20_000 });
		const out = path.join(root(), "corrupt-progress");
		const partial = await interrupted(out, dare(3), { shardSize: 20_000, tensors: 3 });
		await writeFile(path.join(partial, PROGRESS_FILE), "{ not json");
		const events: string[] = [];
		await mergeModels(parseRecipe(dare(3)), { out, shardSize: 20_000, resume: true, onEvent: (e) => events.push(e.event) });
		expect(events).not.toContain("resumed");
		expect((await readdir(root())).filter((f) => f.startsWith("corrupt-progress"))).toEqual(["corrupt-progress"]);
		expect(await digest(out, weights)).toEqual(await digest(clean, weights));
	});

	test("an interrupted single-shard merge leaves a folder that openModel refuses, with no model.safetensors in it", async () => {
		const out = path.join(root(), "single");
		const partial = await interrupted(out, linear(A, B));
		expect(await readdir(partial)).not.toContain("model.safetensors");
		const e = await rejected(openModel(partial), ModelError);
		expect(e.kind).toBe("UnfinishedMerge");
		expect(e.message).toContain("is an unfinished merge");
		expect(e.message).toContain("resume with --resume or delete it");
		// The partial folder cannot be used as an input either.
		expect(
			(await rejected(mergeModels(parseRecipe(linear(partial, A)), { out: path.join(root(), "from-partial") }), ModelError)).kind,
		).toBe("UnfinishedMerge");
		await mergeModels(parseRecipe(linear(A, B)), { out, resume: true });
		await (await openModel(out)).close();
		expect((await readdir(root())).filter((f) => f.startsWith("single"))).toEqual(["single"]);
	});
});

describe("the saved recipe", () => {
	test(
		"seed and dtype overrides are saved (as merge-recipe.yml and mergekit_config.yml), " + "and running it again gives the same bytes",
		async () => {
			const original = path.join(root(), "dare-recipe.yml");
			await writeFile(original, `# a comment that stays\n${dare(0)}`);
			const plan = await buildPlan(await loadRecipe(original), { seed: 7, dtype: "F32" });
			const out = path.join(root(), "d7");
			try {
				await drainMerge(runMerge(plan, { out }));
			} finally {
				await closePlan(plan);
			}
			const saved = await readFile(path.join(out, "merge-recipe.yml"), "utf8");
			expect(saved).toContain("# a comment that stays");
			expect(saved).toMatch(/^seed: 7$/m);
			expect(saved).toMatch(/^out_dtype: float32$/m);
			expect(await readFile(path.join(out, "mergekit_config.yml"), "utf8")).toBe(saved);
			expect(await readFile(path.join(out, "README.md"), "utf8")).toContain("seed: 7");
			const again = path.join(root(), "d7-again");
			await mergeModels(path.join(out, "merge-recipe.yml"), { out: again });
			expect(await digest(again, weights)).toEqual(await digest(out, weights));
			expect(await readFile(path.join(again, "merge-recipe.yml"), "utf8")).toBe(saved);
		},
	);

	test("without overrides the recipe is saved byte for byte", async () => {
		const out = path.join(root(), "plain");
		await mergeModels(parseRecipe(dare(2)), { out, seed: 2 });
		expect(await readFile(path.join(out, "merge-recipe.yml"), "utf8")).toBe(dare(2));
		expect(await readFile(path.join(out, "mergekit_config.yml"), "utf8")).toBe(dare(2));
	});
});

test("the output folder and its files have normal permissions (0777/0666 minus the umask)", async () => {
	const out = path.join(root(), "perms");
	const umask = process.umask(0o022);
	try {
		await mergeModels(parseRecipe(linear(A, B)), { out, shardSize: 20_000 });
	} finally {
		process.umask(umask);
	}
	expect((await stat(out)).mode & 0o777).toBe(0o755);
	for (const f of await readdir(out)) expect((await stat(path.join(out, f))).mode & 0o777, f).toBe(0o644);
	expect(await exists(path.join(out, "model.safetensors.index.json"))).toBe(true);
});
