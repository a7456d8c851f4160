import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { PlanError, RecipeError } from "../../src/errors.js";
import { buildPlan, closePlan } from "../../src/plan/plan.js";
import type { MergePlan } from "../../src/plan/types.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-plan-");
let A: string; // base, 4 layers
let B: string; // A + delta
let C: string; // A + delta (another seed)
let WIDE: string; // different vocab
let DEEP: string; // 6 layers
let LLAMA: string; // config says Llama

beforeAll(async () => {
	A = path.join(root(), "a");
	B = path.join(root(), "b");
	C = path.join(root(), "c");
	WIDE = path.join(root(), "wide");
	DEEP = path.join(root(), "deep");
	LLAMA = path.join(root(), "llama");
	await writeTinyMistral(A, { seed: 1, layers: 4 });
	await writeTinyMistral(B, { seed: 2, base: A });
	await writeTinyMistral(C, { seed: 3, base: A });
	await writeTinyMistral(WIDE, { seed: 4, layers: 4, vocab: 80 });
	await writeTinyMistral(DEEP, { seed: 5, layers: 6 });
	await writeTinyMistral(LLAMA, { seed: 6, layers: 4 });
	const fs = await import("node:fs/promises");
	const cfgPath = path.join(LLAMA, "config.json");
	const cfg = JSON.parse(await fs.readFile(cfgPath, "utf8"));
	cfg.architectures = ["LlamaForCausalLM"];
	await fs.writeFile(cfgPath, JSON.stringify(cfg));
});

async function plan(yaml: string, opts: Parameters<typeof buildPlan>[1] = {}): Promise<MergePlan> {
	const p = await buildPlan(parseRecipe(yaml), opts);
	await closePlan(p);
	return p;
}

async function planError(yaml: string, opts: Parameters<typeof buildPlan>[1] = {}): Promise<PlanError | RecipeError> {
	try {
		await plan(yaml, opts);
	} catch (err) {
		if (err instanceof PlanError || err instanceof RecipeError) return err;
		throw err;
	}
	throw new Error("expected the plan to fail");
}

const slerpYaml = (t: string) => `
merge_method: slerp
base_model: ${"$A"}
models:
  - model: ${"$A"}
  - model: ${"$B"}
parameters:
  t: ${t}
`;
const sub = (s: string) =>
	s
		.replaceAll("$A", A)
		.replaceAll("$B", B)
		.replaceAll("$C", C)
		.replaceAll("$WIDE", WIDE)
		.replaceAll("$DEEP", DEEP)
		.replaceAll("$LLAMA", LLAMA);

describe("buildPlan", () => {
	test("lists every output tensor once, in embed, layers, norm, lm_head order", async () => {
		const p = await plan(sub(slerpYaml("0.5")));
		const names = p.jobs.map((j) => j.output.name);
		expect(names.length).toBe(1 + 9 * 4 + 2);
		expect(new Set(names).size).toBe(names.length);
		expect(names[0]).toBe("model.embed_tokens.weight");
		expect(names.at(-2)).toBe("model.norm.weight");
		expect(names.at(-1)).toBe("lm_head.weight");
		expect(p.jobs[0]!.base).toEqual({ model: 0, tensor: "model.embed_tokens.weight" });
		expect(p.jobs[0]!.inputs).toEqual([{ model: 1, tensor: "model.embed_tokens.weight" }]);
		expect(p.totalBytes).toBe(p.jobs.reduce((n, j) => n + j.output.byteLength, 0));
	});

	test("BioMistral's gradient: t per layer from filters, t = 0 (fallback) outside the layers", async () => {
		const p = await plan(
			sub(`
merge_method: slerp
base_model: $A
models: [{model: $A}, {model: $B}]
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
`),
		);
		const t = (name: string) => p.jobs.find((j) => j.output.name === name)!.params.t;
		// 4 layers: layer i sits at i/3 of the 5 anchors → s = 4i/3.
		expect(t("model.layers.0.self_attn.q_proj.weight")).toBe(0);
		expect(t("model.layers.1.self_attn.q_proj.weight")).toBeCloseTo(0.5 + (1 / 3) * (0.3 - 0.5), 12);
		expect(t("model.layers.2.self_attn.q_proj.weight")).toBeCloseTo(0.3 + (2 / 3) * (0.7 - 0.3), 12);
		expect(t("model.layers.3.self_attn.q_proj.weight")).toBe(1);
		expect(t("model.layers.0.mlp.up_proj.weight")).toBe(1);
		expect(t("model.layers.3.mlp.down_proj.weight")).toBe(0);
		expect(t("model.layers.2.input_layernorm.weight")).toBe(0.5);
		expect(t("model.embed_tokens.weight")).toBe(0.5);
		expect(t("lm_head.weight")).toBe(0.5);
	});

	test("a gradient on a non-layer tensor takes its first anchor (t = 0)", async () => {
		const p = await plan(sub(slerpYaml("[0.2, 0.8]")));
		expect(p.jobs.find((j) => j.output.name === "model.embed_tokens.weight")!.params.t).toBe(0.2);
		expect(p.jobs.find((j) => j.output.name === "model.layers.3.mlp.up_proj.weight")!.params.t).toBeCloseTo(0.8, 12);
	});

	test("per-model parameters follow mergekit precedence: source, then top level, then the default", async () => {
		const p = await plan(
			sub(`
merge_method: ties
base_model: $A
models:
  - model: $B
    parameters: {weight: 0.7}
  - model: $C
parameters: {weight: 0.3, density: 0.5}
`),
		);
		const j = p.jobs[5]!;
		expect(j.modelParams).toEqual([
			expect.objectContaining({ weight: 0.7, density: 0.5 }),
			expect.objectContaining({ weight: 0.3, density: 0.5 }),
		]);
		expect(j.params.normalize).toBe(true);
		expect(j.inputs.map((i) => p.models[i.model]!.path)).toEqual([B, C]);
		expect(p.models[j.base!.model]!.path).toBe(A);
	});

	test.each([
		["unknown method", `merge_method: tiess\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 1}}]`, "UnknownMethod"],
		["base required", `merge_method: ties\nmodels: [{model: $B, parameters: {weight: 1}}]`, "BaseRequired"],
		[
			"slerp with three models",
			`merge_method: slerp\nbase_model: $A\nmodels: [{model: $B}, {model: $C}]\nparameters: {t: 0.5}`,
			"ModelCount",
		],
		["t out of range", slerpYaml("1.5"), "InvalidParameter"],
		["t missing for some tensors", slerpYaml("[{filter: mlp, value: 0.5}]"), "MissingParameter"],
		["density 0", `merge_method: ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 1, density: 0}}]`, "InvalidParameter"],
		[
			"required weight missing",
			`merge_method: ties\nbase_model: $A\nmodels: [{model: $B, parameters: {density: 0.5}}]`,
			"MissingParameter",
		],
		["filter that matches nothing", slerpYaml("[{filter: self_atn, value: 0.1}, {value: 0.5}]"), "FilterMatchesNothing"],
		[
			"unknown parameter name",
			`merge_method: ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 1, densty: 0.5}}]`,
			"InvalidParameter",
		],
		[
			"vocab mismatch",
			`merge_method: linear\nmodels: [{model: $A, parameters: {weight: 1}}, {model: $WIDE, parameters: {weight: 1}}]`,
			"VocabMismatch",
		],
		[
			"layer counts differ",
			`merge_method: linear\nmodels: [{model: $A, parameters: {weight: 1}}, {model: $DEEP, parameters: {weight: 1}}]`,
			"LayerRange",
		],
		["layer range beyond the model", `merge_method: passthrough\nslices: [{sources: [{model: $A, layer_range: [2, 9]}]}]`, "LayerRange"],
		[
			"architectures differ",
			`merge_method: linear\nmodels: [{model: $A, parameters: {weight: 1}}, {model: $LLAMA, parameters: {weight: 1}}]`,
			"ArchitectureMismatch",
		],
		["passthrough of two models", `merge_method: passthrough\nmodels: [{model: $A}, {model: $B}]`, "ModelCount"],
	])("%s is refused before any data is read", async (_label, yaml, kind) => {
		const err = await planError(sub(yaml));
		expect(err.kind).toBe(kind);
		expect(err.message).not.toContain("\n");
	});

	test("a missing tensor names the model and the tensor", async () => {
		const fs = await import("node:fs/promises");
		const broken = path.join(root(), "broken");
		await writeTinyMistral(broken, { seed: 9, layers: 4, tokenizer: false });
		// Re-write without one layer tensor by merging a passthrough of A's first 3 layers + renaming is overkill:
		// instead point at a model with fewer tensors: a 4-layer model lacking lm_head and with tied embeddings is
		// legal, so drop a layer norm by rewriting the file through the library.
		const { openModel } = await import("../../src/model/model-dir.js");
		const { ShardedWriter } = await import("../../src/io/sharded-writer.js");
		const src = await openModel(broken);
		const keep = src.names().filter((n) => n !== "model.layers.2.mlp.up_proj.weight");
		const w = await ShardedWriter.create(
			path.join(root(), "broken2"),
			keep.map((n) => ({ name: n, dtype: src.info(n).dtype, shape: src.info(n).shape })),
			{ maxShardBytes: 1e12 },
		);
		for (const n of keep) await w.writeTensor(n, await src.readRaw(n));
		await w.writeFile("config.json", await fs.readFile(path.join(broken, "config.json")));
		await w.commit();
		await src.close();
		const err = await planError(
			sub(
				`merge_method: linear\nmodels: [{model: $A, parameters: {weight: 1}}, ` +
					`{model: ${path.join(root(), "broken2")}, parameters: {weight: 1}}]`,
			),
		);
		expect(err.kind).toBe("MissingTensor");
		expect(err.message).toContain("model.layers.2.mlp.up_proj.weight");
		expect(err.message).toContain("broken2");
	});

	test("vocab truncation is opt-in and cuts embeddings to the common sub-matrix", async () => {
		const yaml = sub(`merge_method: linear\nmodels: [{model: $A, parameters: {weight: 1}}, {model: $WIDE, parameters: {weight: 1}}]`);
		const p = await plan(yaml, { truncateVocab: true });
		const embed = p.jobs.find((j) => j.output.name === "model.embed_tokens.weight")!;
		expect(embed.output.shape).toEqual([64, 16]);
		expect(embed.truncate).toEqual({ rows: 64, cols: 16 });
		expect(p.config!.vocab_size).toBe(64);
	});

	test("slices renumber layers and patch num_hidden_layers (passthrough frankenmerge)", async () => {
		const p = await plan(
			sub(`
merge_method: passthrough
slices:
  - sources: [{model: $A, layer_range: [0, 3]}]
  - sources: [{model: $B, layer_range: [1, 4]}]
dtype: float16
`),
		);
		const layers = p.jobs.filter((j) => j.output.name.includes(".layers."));
		expect(layers.length).toBe(6 * 9);
		const q5 = p.jobs.find((j) => j.output.name === "model.layers.5.self_attn.q_proj.weight")!;
		expect(p.models[q5.inputs[0]!.model]!.path).toBe(B);
		expect(q5.inputs[0]!.tensor).toBe("model.layers.3.self_attn.q_proj.weight");
		expect(q5.output.dtype).toBe("F16");
		expect(p.config!.num_hidden_layers).toBe(6);
		expect(p.config!.torch_dtype).toBe("float16");
		expect(p.numLayers).toBe(6);
	});

	test("per-tensor output dtype follows out_dtype, then dtype, then the inputs", async () => {
		expect((await plan(sub(slerpYaml("0.5")))).jobs[0]!.output.dtype).toBe("BF16");
		expect((await plan(sub(`${slerpYaml("0.5")}\ndtype: float32\n`))).jobs[0]!.output.dtype).toBe("F32");
		expect((await plan(sub(`${slerpYaml("0.5")}\ndtype: float32\nout_dtype: float16\n`))).jobs[0]!.output.dtype).toBe("F16");
		expect((await plan(sub(slerpYaml("0.5")), { dtype: "F32" })).jobs[0]!.output.byteLength).toBe(64 * 16 * 4);
	});

	test("the base need not be listed: it is appended, and the config donor is the base", async () => {
		const p = await plan(sub(`merge_method: ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 0.5, density: 0.5}}]`));
		expect(p.models.map((m) => m.path)).toEqual([B, A]);
		expect(p.baseModel).toBe(1);
		expect(p.donor).toBe(1);
	});

	test("without a base the first listed model donates config and tokenizer", async () => {
		const p = await plan(sub(`merge_method: linear\nmodels: [{model: $C, parameters: {weight: 1}}, {model: $B, parameters: {weight: 1}}]`));
		expect(p.donor).toBe(0);
		expect(p.tokenizerDir).toBe(C);
	});

	test("a 10,000-anchor gradient plans quickly and resolves exactly", async () => {
		const anchors = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? 0.25 : 0.75));
		const p = await plan(sub(slerpYaml(`[${anchors.join(", ")}]`)));
		// layer 3 of 4 sits on the last anchor (index 9999 → 0.75).
		expect(p.jobs.find((j) => j.output.name === "model.layers.3.mlp.up_proj.weight")!.params.t).toBe(0.75);
	});

	test("checkpoints without transformer layers (embeddings only) plan under models:", async () => {
		const { ShardedWriter } = await import("../../src/io/sharded-writer.js");
		const dirs = [path.join(root(), "emb-a"), path.join(root(), "emb-b")];
		for (const [i, dir] of dirs.entries()) {
			const w = await ShardedWriter.create(dir, [{ name: "model.embed_tokens.weight", dtype: "F32", shape: [4, 2] }], {
				maxShardBytes: 1e12,
			});
			await w.writeTensor("model.embed_tokens.weight", new Float32Array([1, 2, 3, 4, 5, 6, 7, i]));
			await w.commit();
		}
		const p = await plan(
			`merge_method: linear\nmodels: [{model: ${dirs[0]}, parameters: {weight: 1}}, {model: ${dirs[1]}, parameters: {weight: 1}}]`,
		);
		expect(p.jobs.map((j) => j.output.name)).toEqual(["model.embed_tokens.weight"]);
		expect(p.numLayers).toBe(0);
	});

	test("a method that ignores weights warns when they are set", async () => {
		const p = await plan(sub(`merge_method: karcher\nmodels: [{model: $A, parameters: {weight: 0.2}}, {model: $B}]`));
		expect(p.warnings.join("\n")).toMatch(/karcher ignores "weight"/);
	});
});
