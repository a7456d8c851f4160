/**
 * CLI frictions (issue 12, items 22 and 23): one --device vocabulary (hardware) with --backend for the
 * implementation and the old spellings as deprecated aliases; mergekit's habits (the output folder as a positional
 * argument, --cuda, --allow-crimes); quick-command errors that name the flag a value came from.
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { resolveEvalDevice, resolveMergeDevice } from "../../src/cli/device.js";
import { main } from "../../src/cli/main.js";
import type { Io } from "../../src/cli/output.js";
import { UsageError } from "../../src/errors.js";
import { caught } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

function capture(): Io & { stdout: string[]; stderr: string[] } {
	const stdout: string[] = [];
	const stderr: string[] = [];
	return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), isTty: false };
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
	const io = capture();
	const code = await main(args, io);
	return { code, stdout: io.stdout.join("\n"), stderr: io.stderr.join("\n") };
}

describe("resolveMergeDevice", () => {
	test.each([
		[{}, "cpu", "builtin"],
		[{ device: "auto" }, "cpu", "builtin"],
		[{ device: "cpu" }, "cpu", "builtin"],
		[{ device: "CPU", backend: "tfjs" }, "cpu", "tfjs"],
		[{ backend: "tfjs-wasm" }, "cpu", "tfjs-wasm"],
		[{ device: "cuda" }, "cuda", "tfjs"],
		[{ device: "gpu" }, "cuda", "tfjs"],
		[{ cuda: true }, "cuda", "tfjs"],
		[{ cuda: true, device: "gpu", backend: "tfjs" }, "cuda", "tfjs"],
	])("%j → %s / %s", (flags, device, backend) => {
		expect(resolveMergeDevice(flags)).toEqual({ device, backend, notices: [] });
	});

	test("--device tfjs still works, as --backend tfjs with a deprecation notice", () => {
		const r = resolveMergeDevice({ device: "tfjs" });
		expect(r).toMatchObject({ device: "cpu", backend: "tfjs" });
		expect(r.notices).toEqual(["--device tfjs is deprecated: use --backend tfjs"]);
	});

	test.each([
		[{ device: "vulkan" }, /no merge backend runs on Vulkan/],
		[{ device: "tpu" }, /^--device tpu: expected auto, cpu, cuda \(or gpu\) or vulkan$/],
		[{ backend: "llama" }, /^--backend llama: expected builtin, tfjs, tfjs-wasm, tfjs-node or tfjs-cpu$/],
		[{ device: "cuda", backend: "builtin" }, /--device cuda runs on --backend tfjs/],
		[{ cuda: true, device: "cpu" }, /--cuda contradicts --device cpu/],
		[{ device: "tfjs", backend: "builtin" }, /contradicts --backend builtin/],
	])("%j is a usage error", (flags, message) => {
		expect(caught(() => resolveMergeDevice(flags), UsageError).message).toMatch(message);
	});
});

describe("resolveEvalDevice", () => {
	test.each([
		[{}, "auto"],
		[{ device: "cpu" }, "auto"],
		[{ device: "cuda" }, "gpu"],
		[{ device: "gpu" }, "gpu"],
		[{ cuda: true }, "gpu"],
		[{ backend: "tfjs-wasm" }, "wasm"],
		[{ backend: "tfjs-node", device: "cpu" }, "node"],
		[{ backend: "tfjs-cpu" }, "cpu"],
	])("%j → tfjs on engine %s", (flags, tfjsDevice) => {
		expect(resolveEvalDevice(flags)).toEqual({ backend: "tfjs", tfjsDevice, notices: [] });
	});

	test.each([
		[{ backend: "llama" }, {}, "auto"],
		[{ backend: "llama", device: "vulkan" }, {}, "vulkan"],
		[{ backend: "llama", cuda: true }, {}, "cuda"],
		[{}, { quant: true }, "auto"],
		[{ device: "gpu" }, { quant: true }, "cuda"],
	])("%j %j → llama.cpp on %s", (flags, opts, device) => {
		expect(resolveEvalDevice(flags, opts)).toEqual({ backend: "llama", device, notices: [] });
	});

	test.each([
		["wasm", "wasm"],
		["node", "node"],
	])("the old --device %s still works, as --backend tfjs-%s, with a notice", (device, tfjsDevice) => {
		const r = resolveEvalDevice({ device });
		expect(r).toMatchObject({ backend: "tfjs", tfjsDevice });
		expect(r.notices).toEqual([
			`--device ${device} is deprecated: use --backend tfjs-${device} (--device now names hardware: auto, cpu, cuda (or gpu) or vulkan)`,
		]);
	});

	test.each([
		[{ device: "vulkan" }, {}, /tfjs has no Vulkan backend; use --backend llama/],
		[{ backend: "tfjs-wasm", device: "cuda" }, {}, /--backend tfjs-wasm runs on the CPU/],
		[{ backend: "builtin" }, {}, /^--backend builtin: expected tfjs, tfjs-wasm, tfjs-node, tfjs-cpu or llama$/],
		[{ backend: "tfjs" }, { quant: true }, /^--quant needs --backend llama/],
	])("%j %j is a usage error", (flags, opts, message) => {
		expect(caught(() => resolveEvalDevice(flags, opts), UsageError).message).toMatch(message);
	});
});

describe("merge commands", () => {
	const root = useTempDir("lm-merge-flags-");
	let A: string;
	let B: string;
	let LLAMA: string;
	let recipe: string;
	beforeAll(async () => {
		A = path.join(root(), "a");
		B = path.join(root(), "b");
		LLAMA = path.join(root(), "llama");
		await writeTinyMistral(A, { seed: 1, layers: 2 });
		await writeTinyMistral(B, { seed: 2, base: A });
		await writeTinyMistral(LLAMA, { seed: 3, base: A });
		const cfg = path.join(LLAMA, "config.json");
		await writeFile(cfg, JSON.stringify({ ...JSON.parse(await readFile(cfg, "utf8")), architectures: ["LlamaForCausalLM"] }));
		recipe = path.join(root(), "slerp.yml");
		await writeFile(recipe, `merge_method: slerp\nbase_model: ${A}\nmodels: [{model: ${A}}, {model: ${B}}]\nparameters: {t: 0.5}\n`);
	});

	test("run takes the output folder as a positional argument, as mergekit-yaml does", async () => {
		const out = path.join(root(), "positional-out");
		const r = await cli("run", recipe, out, "--quiet", "--threads", "1");
		expect(r.stderr).toBe("");
		expect(r.code).toBe(0);
		expect(existsSync(path.join(out, "model.safetensors"))).toBe(true);
	});

	test("a positional output and a different --out are a usage error", async () => {
		const r = await cli("run", recipe, path.join(root(), "x"), "--out", path.join(root(), "y"));
		expect(r.code).toBe(2);
		expect(r.stderr).toMatch(/^error: two output folders: .*x \(positional\) and --out .*y; give one$/m);
	});

	test("an architecture mismatch names --allow-crimes, which (like --allow-architecture-mismatch) is accepted", async () => {
		const mixed = path.join(root(), "mixed.yml");
		await writeFile(mixed, `merge_method: slerp\nbase_model: ${A}\nmodels: [{model: ${A}}, {model: ${LLAMA}}]\nparameters: {t: 0.5}\n`);
		const refused = await cli("plan", mixed);
		expect(refused.code).toBe(1);
		expect(refused.stderr).toMatch(/mixing architectures needs --allow-crimes/);
		for (const flag of ["--allow-crimes", "--allow-architecture-mismatch"]) {
			expect((await cli("plan", mixed, flag)).code).toBe(0);
			expect((await cli("run", mixed, "--dry-run", flag)).code).toBe(0);
		}
	});

	test("--device tfjs still merges (on tfjs), with one deprecation line", async () => {
		const out = path.join(root(), "tfjs-out");
		const r = await cli("run", recipe, "--out", out, "--quiet", "--device", "tfjs", "--threads", "1");
		expect(r.code).toBe(0);
		expect(r.stderr).toBe("warning: --device tfjs is deprecated: use --backend tfjs");
		expect(existsSync(path.join(out, "model.safetensors"))).toBe(true);
	});

	test("--cuda is --device cuda: without tfjs-node-gpu, the error names the package", async () => {
		const r = await cli("run", recipe, "--out", path.join(root(), "cuda-out"), "--cuda");
		expect(r.code).toBe(1);
		expect(r.stderr).toMatch(/^error: --device cuda needs @tensorflow\/tfjs-node-gpu/);
	});

	test("a bad --device is a usage error before anything is planned", async () => {
		const r = await cli("run", path.join(root(), "no-such.yml"), "--device", "vulkan");
		expect(r.code).toBe(2);
		expect(r.stderr).toMatch(/no merge backend runs on Vulkan/);
	});

	test("merge eval: --device vulkan and a CPU-only engine on cuda are usage errors", async () => {
		expect((await cli("eval", A, "--data", recipe, "--device", "vulkan")).code).toBe(2);
		expect((await cli("eval", A, "--data", recipe, "--backend", "tfjs-wasm", "--cuda")).code).toBe(2);
	});
});

describe("quick commands name the flag a bad value came from", () => {
	const root = useTempDir("lm-merge-quick-flags-");
	let A: string;
	let B: string;
	let C: string;
	beforeAll(async () => {
		A = path.join(root(), "a");
		B = path.join(root(), "b");
		C = path.join(root(), "c");
		await writeTinyMistral(A, { seed: 1, layers: 2 });
		await writeTinyMistral(B, { seed: 2, base: A });
		await writeTinyMistral(C, { seed: 3, base: A });
	});

	test("a missing required value names its flag (not a recipe fallback entry) and is a usage error", async () => {
		const r = await cli("slerp", "--a", A, "--b", B, "--dry-run");
		expect(r.code).toBe(2);
		expect(r.stderr).toMatch(/^error: slerp needs --t \(Interpolation factor: .*, a number in \[0, 1\]\)$/m);
		expect(r.stderr).not.toMatch(/fallback|value: 0\.5/);
		const w = await cli("ties", "--base", A, "--models", B, "--dry-run");
		expect(w.stderr).toMatch(/^error: ties needs --weight /m);
	});

	test("an out-of-range global value names --t", async () => {
		const r = await cli("slerp", "--a", A, "--b", B, "--t", "2", "--dry-run");
		expect(r.code).toBe(1);
		expect(r.stderr).toBe('error: --t: slerp parameter "t" = 2 is outside [0, 1]');
	});

	test("a per-model value names the flag and which of its values", async () => {
		const one = await cli("ties", "--base", A, "--models", B, C, "--weight", "0.5", "--density", "1.5", "--dry-run");
		expect(one.stderr).toMatch(/^error: --density: ties parameter "density" = 1\.5 is outside \(0, 1\]/);
		const two = await cli("ties", "--base", A, "--models", B, C, "--weight", "0.5", "--density", "0.5", "2", "--dry-run");
		expect(two.stderr).toMatch(/^error: --density \(value 2 of 2\): ties parameter "density" = 2 is outside \(0, 1\]/);
	});

	test("a cross-parameter check (DELLA's band) names both flags", async () => {
		const r = await cli("della", "--base", A, "--models", B, "--weight", "0.5", "--density", "0.5", "--epsilon", "1.35", "--dry-run");
		expect(r.code).toBe(1);
		expect(r.stderr).toMatch(/^error: della density = 0\.5 \(--density\) and epsilon = 1\.35 \(--epsilon\) for model .*\[-0\.85, 1\.85\]/);
	});
});
