import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { ExecError } from "../../src/errors.js";
import type { MergeEvent } from "../../src/exec/events.js";
import { mergeModels, mergeModelsIter } from "../../src/exec/merge-models.js";
import { PROGRESS_FILE } from "../../src/io/output-folder.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { exists, useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-par-");
let A: string;
let B: string;

beforeAll(async () => {
	A = path.join(root(), "a");
	B = path.join(root(), "b");
	await writeTinyMistral(A, { seed: 11, layers: 3, hidden: 64, intermediate: 96 });
	await writeTinyMistral(B, { seed: 12, base: A, delta: 0.01 });
});

async function digest(dir: string): Promise<Record<string, string>> {
	const out: Record<string, string> = {};
	for (const f of (await readdir(dir)).sort()) {
		if (f.endsWith(".safetensors") || f.endsWith(".json"))
			out[f] = createHash("sha256")
				.update(await readFile(path.join(dir, f)))
				.digest("hex");
	}
	return out;
}

const dareYaml = (seed = 3) =>
	`merge_method: dare_ties\nbase_model: ${A}\nmodels: [{model: ${B}, parameters: {weight: 0.7, density: 0.4}}]\nseed: ${seed}\n`;

describe("parallel execution and resume", () => {
	test.each(["dare_ties", "ties", "slerp"])("%s: --threads 1, 2 and 3 give byte-identical shards", async (method) => {
		const yaml =
			method === "slerp"
				? `merge_method: slerp\nbase_model: ${A}\nmodels: [{model: ${B}}]\nparameters: {t: [0.1, 0.9]}\n`
				: method === "ties"
					? `merge_method: ties\nbase_model: ${A}\nmodels: [{model: ${B}, parameters: {weight: 0.7, density: 0.4}}]\n`
					: dareYaml();
		const outs: Record<string, string>[] = [];
		for (const threads of [1, 2, 3]) {
			const out = path.join(root(), `${method}-t${threads}`);
			await mergeModels(parseRecipe(yaml), { out, threads, shardSize: 20_000 });
			outs.push(await digest(out));
		}
		expect(Object.keys(outs[0]!).length).toBeGreaterThan(2);
		expect(outs[1]).toEqual(outs[0]);
		expect(outs[2]).toEqual(outs[0]);
	});

	test("a small memory budget still completes, one job at a time, with the same bytes", async () => {
		const a = path.join(root(), "budget-a");
		const b = path.join(root(), "budget-b");
		await mergeModels(parseRecipe(dareYaml()), { out: a, threads: 2 });
		await mergeModels(parseRecipe(dareYaml()), { out: b, threads: 2, memoryBudget: 1 });
		expect(await digest(b)).toEqual(await digest(a));
	});

	test("an interrupted --resume run keeps verified shards; the next run continues and matches a clean run", async () => {
		const clean = path.join(root(), "clean");
		await mergeModels(parseRecipe(dareYaml()), { out: clean, shardSize: 20_000, threads: 1 });
		const out = path.join(root(), "resumed");
		const controller = new AbortController();
		let shardsDone = 0;
		await expect(
			(async () => {
				for await (const e of mergeModelsIter(parseRecipe(dareYaml()), {
					out,
					shardSize: 20_000,
					threads: 1,
					resume: true,
					signal: controller.signal,
				})) {
					if (e.event === "shardWritten" && ++shardsDone === 3) controller.abort();
				}
			})(),
		).rejects.toSatisfy((e) => e instanceof ExecError && e.kind === "Interrupted");
		expect(await exists(out)).toBe(false);
		const partial = (await readdir(root())).filter((f) => f.startsWith("resumed.partial-"));
		expect(partial.length).toBe(1);
		expect(await exists(path.join(root(), partial[0]!, PROGRESS_FILE))).toBe(true);

		const events: MergeEvent[] = [];
		await mergeModels(parseRecipe(dareYaml()), { out, shardSize: 20_000, threads: 2, resume: true, onEvent: (e) => events.push(e) });
		const resumed = events.find((e) => e.event === "resumed");
		// Jobs already running when the abort came may complete a fourth shard; all of them count.
		expect(resumed).toMatchObject({ event: "resumed" });
		expect((resumed as { shards: number }).shards).toBeGreaterThanOrEqual(3);
		expect(events.filter((e) => e.event === "tensor").length).toBeLessThan(1 + 9 * 3 + 2);
		expect(await digest(out)).toEqual(await digest(clean));
		expect((await readdir(root())).filter((f) => f.startsWith("resumed.partial-"))).toEqual([]);
		expect(await exists(path.join(out, PROGRESS_FILE))).toBe(false);
	});

	test("a corrupted completed shard is redone on resume", async () => {
		const out = path.join(root(), "corrupt");
		const controller = new AbortController();
		await expect(
			(async () => {
				for await (const e of mergeModelsIter(parseRecipe(dareYaml()), {
					out,
					shardSize: 20_000,
					threads: 1,
					resume: true,
					signal: controller.signal,
				})) {
					if (e.event === "shardWritten") controller.abort();
				}
			})(),
		).rejects.toBeInstanceOf(ExecError);
		const partial = path.join(root(), (await readdir(root())).find((f) => f.startsWith("corrupt.partial-"))!);
		const fs = await import("node:fs/promises");
		const h = await fs.open(
			path.join(partial, `model-00001-of-${(await readdir(partial)).find((f) => f.startsWith("model-00001-of-"))!.slice(15)}`),
			"r+",
		);
		const size = (await h.stat()).size;
		await h.write(new Uint8Array([0xff, 0xfe]), 0, 2, size - 2);
		await h.close();
		// Shards finish in the background, so more than the first may be recorded by the time the run stopped.
		const recorded = Object.keys((JSON.parse(await readFile(path.join(partial, PROGRESS_FILE), "utf8")) as { shards: object }).shards);
		expect(recorded.some((f) => f.startsWith("model-00001-of-"))).toBe(true);
		const events: MergeEvent[] = [];
		await mergeModels(parseRecipe(dareYaml()), { out, shardSize: 20_000, resume: true, onEvent: (e) => events.push(e) });
		const resumed = events.find((e) => e.event === "resumed");
		// Every recorded shard but the corrupted one is kept.
		if (recorded.length === 1) expect(resumed).toBeUndefined();
		else expect(resumed).toMatchObject({ shards: recorded.length - 1 });
		expect(await digest(out)).toEqual(await digest(path.join(root(), "clean")));
	});

	test("a partial output from another recipe or seed is refused with --resume", async () => {
		const out = path.join(root(), "mismatch");
		const controller = new AbortController();
		await expect(
			(async () => {
				for await (const e of mergeModelsIter(parseRecipe(dareYaml(3)), {
					out,
					shardSize: 20_000,
					threads: 1,
					resume: true,
					signal: controller.signal,
				})) {
					if (e.event === "shardWritten") controller.abort();
				}
			})(),
		).rejects.toBeInstanceOf(ExecError);
		await expect(mergeModels(parseRecipe(dareYaml(4)), { out, shardSize: 20_000, resume: true })).rejects.toSatisfy(
			(e) => e instanceof ExecError && e.kind === "ResumeMismatch",
		);
		// Without --resume a fresh run ignores the stale partial folder.
		await mergeModels(parseRecipe(dareYaml(4)), { out, shardSize: 20_000 });
		expect(await exists(path.join(out, "model.safetensors.index.json"))).toBe(true);
	});
});

describe("chunked streaming of large tensors", () => {
	test.each([
		["linear", `merge_method: linear\nmodels: [{model: $A, parameters: {weight: 0.3}}, {model: $B, parameters: {weight: 0.7}}]\n`],
		["task_arithmetic", `merge_method: task_arithmetic\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 0.8}}]\n`],
		[
			"dare_ties (inverse_density)",
			`merge_method: dare_ties\nbase_model: $A\n` +
				`models: [{model: $B, parameters: {weight: 0.5, density: 0.5}}]\nparameters: {rescale: inverse_density}\nseed: 5\n`,
		],
		[
			"dare_linear (no rescale)",
			`merge_method: dare_linear\nbase_model: $A\n` +
				`models: [{model: $B, parameters: {weight: 0.5, density: 0.3}}]\nparameters: {rescale: false}\n`,
		],
		["passthrough", `merge_method: passthrough\nmodels: [{model: $B, parameters: {scale: 0.5}}]\n`],
		["slerp", `merge_method: slerp\nbase_model: $A\nmodels: [{model: $B}]\nparameters: {t: [0, 0.3, 1]}\n`],
		[
			"ties (L1 rescale)",
			`merge_method: ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 0.6, density: 0.3}}]\nparameters: {rescale: true}\n`,
		],
		[
			"dare_ties (L1 rescale)",
			`merge_method: dare_ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 0.5, density: 0.5}}]\nseed: 9\n`,
		],
		[
			"breadcrumbs_ties",
			`merge_method: breadcrumbs_ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 0.5, density: 0.4, gamma: 0.05}}]\n`,
		],
	])("%s: streaming in 1024-element chunks gives the same bytes as whole tensors", async (label, yaml) => {
		const text = yaml.replaceAll("$A", A).replaceAll("$B", B);
		const slug = label.replace(/\W+/g, "-");
		const whole = path.join(root(), `whole-${slug}`);
		const chunked = path.join(root(), `chunked-${slug}`);
		await mergeModels(parseRecipe(text), { out: whole, threads: 1 });
		await mergeModels(parseRecipe(text), { out: chunked, threads: 2, chunkElements: 1024 });
		expect(await digest(chunked)).toEqual(await digest(whole));
	});
});
