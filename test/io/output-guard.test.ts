import { mkdir, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { PlanError } from "../../src/errors.js";
import { assertNoOverlap, assertSafeOutput, realPathOf } from "../../src/io/output-guard.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";

const root = useTempDir("lm-merge-guard-");
/** root/home/work/w: the working folder of the destination tests, two levels below a stand-in home folder. */
let cwd: string;

beforeAll(async () => {
	cwd = path.join(root(), "home", "work", "w");
	await mkdir(path.join(cwd, "merged"), { recursive: true });
	await mkdir(path.join(root(), "elsewhere"));
	await symlink(path.join(root(), "elsewhere"), path.join(cwd, "link-out"));
	await symlink(cwd, path.join(root(), "cwd-link"));
});

async function refusal(out: string, protect: string[] = []): Promise<PlanError> {
	const e = await rejected(assertSafeOutput(out, { cwd, protect }), PlanError);
	expect(e.kind).toBe("UnsafeOutput");
	expect(e.message).toContain(JSON.stringify(out));
	return e;
}

describe("assertSafeOutput refuses destinations whose replacement could delete what was not asked for", () => {
	test.each([
		["", "empty"],
		["   ", "empty"],
		[".", "ending in"],
		["./", "ending in"],
		["..", "ending in"],
		["merged/..", "ending in"],
		["sub/.", "ending in"],
	])("%j: %s", async (out, says) => {
		expect((await refusal(out)).message).toContain(says);
	});

	test("the working folder by absolute path, by a relative detour and through a symlink", async () => {
		expect((await refusal(cwd)).message).toContain("current folder");
		expect((await refusal("../w")).message).toContain("current folder");
		expect((await refusal(path.join(root(), "cwd-link"))).message).toContain("symbolic link");
	});

	test("every folder above the working folder, and the file-system root", async () => {
		expect((await refusal(path.join(root(), "home", "work"))).message).toContain("contains the current folder");
		expect((await refusal("../../../..")).message).toContain("ending in");
		expect((await refusal(root())).message).toContain("contains the current folder");
		expect((await refusal("/")).message).toContain("root");
	});

	test("the home folder and a protected folder (the default output root) itself, but not folders inside them", async () => {
		await refusal(os.homedir());
		const merged = path.join(cwd, "merged");
		expect((await refusal("merged", [merged])).message).toContain("default outputs");
		expect((await refusal(`${cwd}/./merged`, [merged])).message).toContain("default outputs");
		expect(await assertSafeOutput("merged/x", { cwd, protect: [merged] })).toBe(path.join(merged, "x"));
	});

	test("a symbolic link as the output is refused (replacing it would replace the link, not the folder it names)", async () => {
		expect((await refusal("link-out")).message).toContain(path.join(root(), "elsewhere"));
	});

	test("ordinary destinations pass and come back absolute", async () => {
		expect(await assertSafeOutput("out", { cwd })).toBe(path.join(cwd, "out"));
		expect(await assertSafeOutput("../sibling/out", { cwd })).toBe(path.join(root(), "home", "work", "sibling", "out"));
		expect(await assertSafeOutput(path.join(root(), "elsewhere", "x"), { cwd })).toBe(path.join(root(), "elsewhere", "x"));
	});
});

describe("assertNoOverlap compares real paths and device + inode", () => {
	let A: string;
	let cacheSnapshot: string;
	let blobs: string;

	beforeAll(async () => {
		A = path.join(root(), "models", "A");
		await mkdir(A, { recursive: true });
		await writeFile(path.join(A, "model.safetensors"), "weights");
		await symlink(A, path.join(root(), "models", "Alink"));
		// A Hugging Face cache entry: snapshot files are symlinks into blobs/.
		const repo = path.join(root(), "hf", "models--org--name");
		blobs = path.join(repo, "blobs");
		cacheSnapshot = path.join(repo, "snapshots", "abc123");
		await mkdir(blobs, { recursive: true });
		await mkdir(cacheSnapshot, { recursive: true });
		await writeFile(path.join(blobs, "sha-weights"), "weights");
		await symlink(path.join("..", "..", "blobs", "sha-weights"), path.join(cacheSnapshot, "model.safetensors"));
	});

	async function overlap(out: string, input: string): Promise<PlanError> {
		const e = await rejected(assertNoOverlap(out, [{ path: input, label: "model X" }]), PlanError);
		expect(e.kind).toBe("OutputInsideInput");
		expect(e.message).toContain("model X");
		return e;
	}

	test("an input reached through a symlink is the output, whichever side the link is on", async () => {
		expect((await overlap(A, path.join(root(), "models", "Alink"))).message).toContain(`${path.join(root(), "models", "Alink")} → ${A}`);
		await overlap(path.join(root(), "models", "Alink", "sub"), A);
	});

	test("an output that contains an input, or lies inside one", async () => {
		expect((await overlap(path.join(root(), "models"), A)).message).toContain("contains");
		expect((await overlap(path.join(A, "merged"), A)).message).toContain("lies inside");
	});

	test("a Hugging Face snapshot's blobs/ folder counts as part of the input", async () => {
		expect((await overlap(blobs, cacheSnapshot)).message).toContain(path.join(blobs, "sha-weights"));
		await overlap(path.dirname(blobs), cacheSnapshot);
	});

	test("disjoint folders pass; realPathOf resolves through a missing tail", async () => {
		await assertNoOverlap(path.join(root(), "models", "B"), [
			{ path: A, label: "a" },
			{ path: cacheSnapshot, label: "c" },
		]);
		expect(await realPathOf(path.join(root(), "models", "Alink", "not", "there"))).toBe(path.join(A, "not", "there"));
	});
});
