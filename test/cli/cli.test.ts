import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BUILTIN_METHODS, numel, openModel } from "../../src/index.js";
import { CLI_MODEL_SHAPE, CLI_MODEL_TENSORS, CLI_MODELS, errorLines, runCli, writeCliModels } from "../helpers/cli.js";

let root: string;
let work: string;
let env: Record<string, string>;
let dirs: { base: string; instruct: string; bio: string };

/** One bf16 step relative to the value: a merged value may differ from its f32 reference by one rounding. */
const BF16_RELATIVE = 2 ** -8;

beforeAll(async () => {
	root = await mkdtemp(path.join(tmpdir(), "lm-merge-cli-"));
	work = path.join(root, "work");
	await mkdir(work, { recursive: true });
	env = { HF_HUB_CACHE: path.join(root, "hf-cache") };
	dirs = await writeCliModels(env.HF_HUB_CACHE!);
});

afterAll(async () => {
	await rm(root, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args, { cwd: work, env });

/** Every tensor of a model folder as raw bytes, by name. */
async function rawTensors(dir: string): Promise<Map<string, Uint8Array>> {
	const m = await openModel(dir);
	try {
		const out = new Map<string, Uint8Array>();
		for (const name of m.names()) out.set(name, await m.readRaw(name));
		return out;
	} finally {
		await m.close();
	}
}

async function readF32(dir: string, name: string): Promise<Float32Array> {
	const m = await openModel(dir);
	try {
		return (await m.read(name)).data;
	} finally {
		await m.close();
	}
}

function expectSuccess(r: { exitCode: number | null; stderr: string }): void {
	expect(errorLines(r.stderr), r.stderr).toEqual([]);
	expect(r.exitCode).toBe(0);
}

describe("merge inspect", () => {
	test("text output lists every tensor and the totals", async () => {
		const r = await cli("inspect", dirs.bio);
		expectSuccess(r);
		expect(r.stdout).toMatch(/^name\s+dtype\s+shape\s+bytes/);
		expect(r.stdout).toMatch(/model\.layers\.1\.mlp\.down_proj\.weight\s+BF16\s+\[16, 32\]\s+1\.02 KB/);
		expect(r.stdout).toContain(`${CLI_MODEL_TENSORS} tensors in 1 file(s)`);
		expect(r.stdout).toContain(`${CLI_MODEL_SHAPE.layers} layers`);
		expect(r.stdout).toContain("metadata: format=pt");
	});

	test("--json gives name, dtype, shape and bytes per tensor, parameter and layer counts", async () => {
		const r = await cli("inspect", dirs.bio, "--json");
		expectSuccess(r);
		const j = JSON.parse(r.stdout) as {
			tensors: Array<{ name: string; dtype: string; shape: number[]; bytes: number }>;
			parameters: number;
			layers: number;
			bytes: number;
			metadata: Record<string, string>;
		};
		expect(j.tensors).toHaveLength(CLI_MODEL_TENSORS);
		const { hidden: h, intermediate: i, vocab: v } = CLI_MODEL_SHAPE;
		const kv = (h / CLI_MODEL_SHAPE.heads) * CLI_MODEL_SHAPE.kvHeads;
		expect(j.tensors.find((t) => t.name === "model.layers.0.self_attn.k_proj.weight")).toMatchObject({
			dtype: "BF16",
			shape: [kv, h],
			bytes: kv * h * 2,
		});
		for (const t of j.tensors) expect(t.bytes).toBe(numel(t.shape) * 2);
		// embed + lm_head + final norm, and per layer: q, o (h·h), k, v (kv·h), 3 MLP (h·i), 2 norms (h).
		const perLayer = 2 * h * h + 2 * kv * h + 3 * h * i + 2 * h;
		expect(j.parameters).toBe(2 * v * h + h + CLI_MODEL_SHAPE.layers * perLayer);
		expect(j.bytes).toBe(j.parameters * 2);
		expect(j.layers).toBe(CLI_MODEL_SHAPE.layers);
		expect(j.metadata.format).toBe("pt");
	});
});

describe("quick commands", () => {
	test.each([
		[0, "bio"],
		[1, "instruct"],
	] as const)("slerp --t %d reproduces the %s model's tensor bytes exactly", async (t, which) => {
		const out = path.join(root, `slerp-t${t}`);
		const r = await cli("slerp", "--a", "biomistral", "--b", "mistral", "--t", String(t), "--out", out, "--quiet");
		expectSuccess(r);
		const got = await rawTensors(out);
		const want = await rawTensors(dirs[which]);
		expect([...got.keys()]).toEqual([...want.keys()]);
		for (const [name, bytes] of want) expect(Buffer.from(got.get(name)!).equals(Buffer.from(bytes)), name).toBe(true);
	});

	test("linear --weight 1 3 is the weighted mean (w normalised by their sum)", async () => {
		const out = path.join(root, "linear");
		expectSuccess(await cli("linear", "--models", "biomistral", "mistral", "--weight", "1", "3", "--out", out, "--quiet"));
		const name = "model.layers.0.self_attn.q_proj.weight";
		const [a, b, got] = await Promise.all([readF32(dirs.bio, name), readF32(dirs.instruct, name), readF32(out, name)]);
		for (let k = 0; k < got.length; k++) {
			const want = (1 * a[k]! + 3 * b[k]!) / 4;
			expect(Math.abs(got[k]! - want)).toBeLessThanOrEqual(Math.abs(want) * BF16_RELATIVE + 1e-30);
		}
	});

	test("ties with density 1 and one model gives that model back (normalize divides the weight out)", async () => {
		const out = path.join(root, "ties");
		const r = await cli(
			"ties",
			"--base",
			CLI_MODELS.base,
			"--models",
			"biomistral",
			"--weight",
			"0.5",
			"--density",
			"1",
			"--out",
			out,
			"--quiet",
		);
		expectSuccess(r);
		const name = "model.layers.1.mlp.up_proj.weight";
		const [bio, got] = await Promise.all([readF32(dirs.bio, name), readF32(out, name)]);
		for (let k = 0; k < got.length; k++) expect(Math.abs(got[k]! - bio[k]!)).toBeLessThanOrEqual(Math.abs(bio[k]!) * BF16_RELATIVE);
	});

	test("dare-ties is reproducible from --seed and changes with it", async () => {
		const args = [
			"dare-ties",
			"--base",
			CLI_MODELS.base,
			"--models",
			"biomistral",
			"mistral",
			"--weight",
			"0.5",
			"--density",
			"0.5",
			"--quiet",
		];
		for (const [out, seed] of [
			["dare-a", "7"],
			["dare-b", "7"],
			["dare-c", "8"],
		] as const) {
			expectSuccess(await cli(...args, "--seed", seed, "--out", path.join(root, out)));
		}
		const [a, b, c] = await Promise.all(["dare-a", "dare-b", "dare-c"].map((d) => readFile(path.join(root, d, "model.safetensors"))));
		expect(a!.equals(b!)).toBe(true);
		expect(a!.equals(c!)).toBe(false);
		const values = await readF32(path.join(root, "dare-a"), "model.layers.0.mlp.gate_proj.weight");
		expect(values.every(Number.isFinite)).toBe(true);
	});

	test("--shard-size splits the output into shards listed by model.safetensors.index.json", async () => {
		const out = path.join(root, "sharded");
		expectSuccess(await cli("slerp", "--a", "biomistral", "--b", "mistral", "--t", "0", "--shard-size", "4KB", "--out", out, "--quiet"));
		const files = await readdir(out);
		const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
		expect(shards.length).toBeGreaterThan(1);
		expect(files).not.toContain("model.safetensors");
		const index = JSON.parse(await readFile(path.join(out, "model.safetensors.index.json"), "utf8")) as {
			weight_map: Record<string, string>;
		};
		expect(Object.keys(index.weight_map)).toHaveLength(CLI_MODEL_TENSORS);
		expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shards));
		// t = 0: every tensor is BioMistral's, wherever it landed.
		const whole = await rawTensors(dirs.bio);
		const split = await rawTensors(out);
		for (const [name, bytes] of whole) expect(Buffer.from(split.get(name)!).equals(Buffer.from(bytes)), name).toBe(true);
	});

	test.each(["slerp", "dare-ties"])("%s: --threads 1 and --threads 2 write byte-identical files", async (method) => {
		const args =
			method === "slerp"
				? ["slerp", "--a", "biomistral", "--b", "mistral", "--t", "0.3"]
				: [
						"dare-ties",
						"--base",
						CLI_MODELS.base,
						"--models",
						"biomistral",
						"mistral",
						"--weight",
						"0.5",
						"--density",
						"0.5",
						"--seed",
						"3",
					];
		const outs = [1, 2].map((n) => path.join(root, `${method}-threads-${n}`));
		for (const [k, out] of outs.entries()) expectSuccess(await cli(...args, "--threads", String(k + 1), "--out", out, "--quiet"));
		const [one, two] = await Promise.all(outs.map((o) => readFile(path.join(o, "model.safetensors"))));
		expect(one!.equals(two!)).toBe(true);
	});

	test("--dtype float32 writes F32 tensors and says so in config.json", async () => {
		const out = path.join(root, "f32");
		expectSuccess(await cli("slerp", "--a", "biomistral", "--b", "mistral", "--t", "0.5", "--dtype", "float32", "--out", out, "--quiet"));
		const m = await openModel(out);
		try {
			expect(new Set(m.names().map((n) => m.info(n).dtype))).toEqual(new Set(["F32"]));
		} finally {
			await m.close();
		}
		expect(JSON.parse(await readFile(path.join(out, "config.json"), "utf8"))).toMatchObject({ torch_dtype: "float32" });
	});

	test("--json prints one machine-readable summary on stdout and no progress", async () => {
		const out = path.join(root, "json");
		const r = await cli("slerp", "--a", "biomistral", "--b", "mistral", "--t", "0.5", "--out", out, "--json");
		expectSuccess(r);
		const j = JSON.parse(r.stdout) as { out: string; tensors: number; files: string[]; method: string; models: Array<{ ref: string }> };
		expect(j).toMatchObject({ out, tensors: CLI_MODEL_TENSORS, method: "slerp" });
		// Aliases stand for repo ids: the recipe the quick command runs (and saves) names those.
		expect(j.models.map((m) => m.ref).sort()).toEqual([CLI_MODELS.bio, CLI_MODELS.instruct]);
		expect(r.stderr).not.toMatch(/^\[1\//m);
	});

	test("--dry-run prints the plan and writes nothing", async () => {
		const scratch = path.join(root, "dry");
		await mkdir(scratch);
		const r = await runCli(["slerp", "--a", "biomistral", "--b", "mistral", "--t", "0.5", "--dry-run"], { cwd: scratch, env });
		expectSuccess(r);
		expect(r.stdout).toContain("method      SLERP (slerp)");
		expect(r.stdout).toContain("model.layers.1.mlp.down_proj.weight BF16[16,32]  t=0.5");
		expect(await readdir(scratch)).toEqual([]);
	});

	test("without --out the output goes to a descriptive folder under ./merged, printed last", async () => {
		const scratch = path.join(root, "default-out");
		await mkdir(scratch);
		const r = await runCli(["slerp", "--a", "biomistral", "--b", "mistral", "--t", "0.5"], { cwd: scratch, env });
		expectSuccess(r);
		const last = r.stdout.trimEnd().split("\n").at(-1)!;
		expect(last).toBe(path.join("merged", "slerp-biomistral-mistral-t0.5"));
		expect(existsSync(path.join(scratch, last, "model.safetensors"))).toBe(true);
		expect(await readdir(path.join(scratch, "merged"))).toEqual(["slerp-biomistral-mistral-t0.5"]);
	});
});

describe("model references", () => {
	test("a user alias from $LM_MERGE_CONFIG resolves to a path relative to the alias file", async () => {
		const config = path.join(root, "aliases", "config.yaml");
		await mkdir(path.dirname(config), { recursive: true });
		await writeFile(config, `aliases:\n  mine: ${path.relative(path.dirname(config), dirs.bio)}\n  theirs: ${CLI_MODELS.instruct}\n`);
		const out = path.join(root, "user-alias");
		const r = await runCli(["slerp", "--a", "mine", "--b", "theirs", "--t", "0", "--out", out, "--json"], {
			cwd: work,
			env: { ...env, LM_MERGE_CONFIG: config },
		});
		expectSuccess(r);
		// A user alias is local to this machine: the recipe names what it points to (a folder here, a repo id there).
		const models = (JSON.parse(r.stdout) as { models: Array<{ ref: string; path: string }> }).models;
		expect(models).toContainEqual({ ref: dirs.bio, path: dirs.bio });
		expect(models.map((m) => m.ref)).toContain(CLI_MODELS.instruct);
		const [got, want] = await Promise.all([rawTensors(out), rawTensors(dirs.bio)]);
		expect(Buffer.from(got.get("lm_head.weight")!).equals(Buffer.from(want.get("lm_head.weight")!))).toBe(true);
	});

	test("without HF_HUB_CACHE the cache is $HF_HOME/hub", async () => {
		const home = path.join(root, "hf-home");
		await mkdir(home);
		await symlink(env.HF_HUB_CACHE!, path.join(home, "hub"));
		const recipe = path.join(root, "hf-home.yml");
		await writeFile(recipe, `merge_method: linear\nparameters:\n  weight: 1\nmodels:\n  - model: ${CLI_MODELS.bio}\n  - model: mistral\n`);
		const r = await runCli(["plan", recipe, "--json"], { cwd: work, env: { HF_HOME: home } });
		expectSuccess(r);
		const models = (JSON.parse(r.stdout) as { models: Array<{ path: string; via: string }> }).models;
		expect(models.map((m) => m.via)).toEqual(["hf-cache", "alias"]);
		for (const m of models) expect(m.path.startsWith(path.join(home, "hub") + path.sep)).toBe(true);
	});
});

describe("recipes and the method list", () => {
	const recipe = [
		"merge_method: slerp",
		`base_model: ${CLI_MODELS.instruct}`,
		"models:",
		`  - model: ${CLI_MODELS.instruct}`,
		`  - model: ${CLI_MODELS.bio}`,
		"parameters:",
		"  t:",
		"    - filter: self_attn",
		"      value: [0, 1]",
		"    - value: 0.25",
		"dtype: bfloat16",
		"",
	].join("\n");

	test("plan resolves models through the cache and prints per-tensor parameters; run writes the folder", async () => {
		const file = path.join(work, "recipe.yml");
		await writeFile(file, recipe);
		const plan = await cli("plan", "recipe.yml", "--json");
		expectSuccess(plan);
		const p = JSON.parse(plan.stdout) as {
			method: string;
			tensors: number;
			models: Array<{ via: string }>;
			jobs: Array<{ name: string; params: { t: number } }>;
		};
		expect(p.method).toBe("slerp");
		expect(p.tensors).toBe(CLI_MODEL_TENSORS);
		expect(p.models.map((m) => m.via)).toEqual(["hf-cache", "hf-cache"]);
		// Two layers: the gradient [0, 1] gives layer 0 t = 0 and layer 1 t = 1; everything else 0.25.
		const t = (name: string) => p.jobs.find((j) => j.name === name)!.params.t;
		expect([t("model.layers.0.self_attn.q_proj.weight"), t("model.layers.1.self_attn.q_proj.weight"), t("model.norm.weight")]).toEqual([
			0, 1, 0.25,
		]);

		const out = path.join(root, "run");
		const run = await cli("run", "recipe.yml", "--out", out);
		expectSuccess(run);
		expect(run.stdout.trimEnd().split("\n").at(-1)).toBe(out);
		expect(run.stderr).toContain(`[${CLI_MODEL_TENSORS}/${CLI_MODEL_TENSORS}]`);
		const files = await readdir(out);
		for (const f of ["model.safetensors", "config.json", "README.md", "merge-recipe.yml", "tokenizer.json"]) expect(files).toContain(f);
		expect(await readFile(path.join(out, "merge-recipe.yml"), "utf8")).toBe(recipe);
		// Layer 0 attention has t = 0: exactly the base (instruct) model.
		const [merged, instruct] = await Promise.all([rawTensors(out), rawTensors(dirs.instruct)]);
		const name = "model.layers.0.self_attn.v_proj.weight";
		expect(Buffer.from(merged.get(name)!).equals(Buffer.from(instruct.get(name)!))).toBe(true);
	});

	test("methods lists every registered method, as text and as JSON", async () => {
		const text = await cli("methods");
		expectSuccess(text);
		for (const m of BUILTIN_METHODS) expect(text.stdout).toMatch(new RegExp(`^${m.name} — `, "m"));
		const json = await cli("methods", "--json");
		expectSuccess(json);
		expect((JSON.parse(json.stdout) as Array<{ name: string }>).map((m) => m.name)).toEqual(BUILTIN_METHODS.map((m) => m.name));
	});
});
