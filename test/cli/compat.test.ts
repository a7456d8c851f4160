/**
 * `--compat mergekit` on the command line: `merge plan` says which arithmetic runs, `merge run` and the quick
 * commands write torch's bytes, and `--compat float32` overrides a recipe's key.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openModel } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { expectedFixtureBytes, FIXTURE_TENSOR, fixtureCase, writeFixtureRecipe } from "../helpers/mergekit-fixtures.js";

let root: string;
let recipeWith: string;
let recipeWithout: string;
const ties = fixtureCase("ties", "ties-bfloat16-2models");

beforeAll(async () => {
	root = await mkdtemp(path.join(tmpdir(), "lm-merge-cli-compat-"));
	await mkdir(path.join(root, "work"));
	recipeWith = path.join(root, "with.yml");
	recipeWithout = path.join(root, "without.yml");
	await writeFile(recipeWith, await writeFixtureRecipe(ties, path.join(root, "with"), { compat: true }));
	await writeFile(recipeWithout, await writeFixtureRecipe(ties, path.join(root, "without"), { compat: false }));
});

afterAll(async () => {
	await rm(root, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args, { cwd: path.join(root, "work") });

async function outputBytes(dir: string): Promise<Buffer> {
	const m = await openModel(dir);
	try {
		return Buffer.from(await m.readRaw(FIXTURE_TENSOR));
	} finally {
		await m.close();
	}
}

describe("--compat", () => {
	test("merge plan names the arithmetic, in text and JSON", async () => {
		const plain = await cli("plan", recipeWithout);
		expect(plain.exitCode).toBe(0);
		expect(plain.stdout).toMatch(/^arithmetic\s+float32/m);
		const compat = await cli("plan", recipeWithout, "--compat", "mergekit");
		expect(compat.stdout).toMatch(/^arithmetic\s+mergekit .*bfloat16/m);
		const json = JSON.parse((await cli("plan", recipeWith, "--json")).stdout) as { compat: string; jobs: { compute_dtype?: string }[] };
		expect(json.compat).toBe("mergekit");
		expect(json.jobs[0]!.compute_dtype).toBe("BF16");
		const off = JSON.parse((await cli("plan", recipeWith, "--json", "--compat", "float32")).stdout) as { compat: string };
		expect(off.compat).toBe("float32");
	});

	test("merge run --compat mergekit writes mergekit's bytes; the recipe key does the same; float32 differs", async () => {
		const viaFlag = path.join(root, "out-flag");
		const r = await cli("run", recipeWithout, "--out", viaFlag, "--compat", "mergekit", "--quiet");
		expect(r.exitCode, r.stderr).toBe(0);
		const want = Buffer.from(expectedFixtureBytes(ties));
		expect((await outputBytes(viaFlag)).equals(want)).toBe(true);
		const viaKey = path.join(root, "out-key");
		expect((await cli("run", recipeWith, "--out", viaKey, "--quiet")).exitCode).toBe(0);
		expect((await outputBytes(viaKey)).equals(want)).toBe(true);
		const plain = path.join(root, "out-plain");
		expect((await cli("run", recipeWith, "--out", plain, "--quiet", "--compat", "float32")).exitCode).toBe(0);
		expect((await outputBytes(plain)).equals(want)).toBe(false);
	});

	test("a quick command takes --compat mergekit", async () => {
		const out = path.join(root, "out-quick");
		const [m0, m1] = ties.modelParams;
		const r = await cli(
			"ties",
			"--base",
			path.join(root, "with", "base"),
			"--models",
			path.join(root, "with", "m0"),
			path.join(root, "with", "m1"),
			"--weight",
			String(m0!.weight),
			String(m1!.weight),
			"--density",
			String(m0!.density),
			String(m1!.density),
			"--dtype",
			"bfloat16",
			"--compat",
			"mergekit",
			"--out",
			out,
			"--quiet",
		);
		expect(r.exitCode, r.stderr).toBe(0);
		expect((await outputBytes(out)).equals(Buffer.from(expectedFixtureBytes(ties)))).toBe(true);
	});

	test("an unknown mode is a usage error", async () => {
		const r = await cli("plan", recipeWith, "--compat", "torch");
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain("compat");
	});
});
