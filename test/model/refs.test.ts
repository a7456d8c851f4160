import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { ModelError } from "../../src/errors.js";
import { hfCacheRoot, parseHfRef } from "../../src/model/hf-cache.js";
import { BUILTIN_ALIASES, expandAlias, resolveModelRef } from "../../src/model/refs.js";
import { useTempDir } from "../helpers/fs.js";

const COMMIT_MAIN = "a".repeat(40);
const COMMIT_OLD = "b".repeat(40);

const root = useTempDir("lm-merge-refs-");
let cache: string;
let env: NodeJS.ProcessEnv;

/** A snapshot folder in the fake cache, optionally with refs/<branch> pointing at it. */
async function cacheModel(repoId: string, commit: string, branch?: string): Promise<string> {
	const repoDir = join(cache, `models--${repoId.replace("/", "--")}`);
	const snapshot = join(repoDir, "snapshots", commit);
	await mkdir(snapshot, { recursive: true });
	await writeFile(join(snapshot, "config.json"), "{}");
	if (branch !== undefined) {
		await mkdir(join(repoDir, "refs"), { recursive: true });
		await writeFile(join(repoDir, "refs", branch), `${commit}\n`);
	}
	return snapshot;
}

beforeAll(async () => {
	cache = join(root(), "hf", "hub");
	// HOME points into the sandbox so no real ~/.config/lm-merge file is read. The fake snapshots hold only a
	// config.json, which online resolution would complete from the Hub: these tests are about the cache lookup.
	env = { HF_HUB_CACHE: cache, HOME: join(root(), "home"), HF_HUB_OFFLINE: "1" };
	await mkdir(join(root(), "cwd", "models", "local"), { recursive: true });
	await mkdir(join(root(), "recipes", "rel"), { recursive: true });
	await mkdir(join(root(), "recipes", "models", "local"), { recursive: true });
	await cacheModel("BioMistral/BioMistral-7B", COMMIT_MAIN, "main");
	await cacheModel("BioMistral/BioMistral-7B", COMMIT_OLD, "v0.1");
	await cacheModel("mistralai/Mistral-7B-Instruct-v0.1", COMMIT_MAIN, "main");
	await cacheModel("org/only-snapshot", COMMIT_OLD);
});

describe("resolveModelRef order", () => {
	test("an existing path relative to cwd wins over recipeDir", async () => {
		const r = await resolveModelRef("models/local", { cwd: join(root(), "cwd"), recipeDir: join(root(), "recipes"), env });
		expect(r).toEqual({ ref: "models/local", path: join(root(), "cwd", "models", "local"), via: "path" });
	});

	test("then a path relative to the recipe folder", async () => {
		const r = await resolveModelRef("rel", { cwd: join(root(), "cwd"), recipeDir: join(root(), "recipes"), env });
		expect(r.path).toBe(join(root(), "recipes", "rel"));
		expect(r.via).toBe("path");
	});

	test("absolute paths", async () => {
		const r = await resolveModelRef(join(root(), "recipes", "rel"), { cwd: "/", env });
		expect(r.via).toBe("path");
	});

	test("built-in aliases, case-insensitive, through the HF cache", async () => {
		expect(BUILTIN_ALIASES).toEqual({ biomistral: "BioMistral/BioMistral-7B", mistral: "mistralai/Mistral-7B-Instruct-v0.1" });
		const r = await resolveModelRef("BioMistral", { cwd: join(root(), "cwd"), env });
		expect(r).toMatchObject({
			via: "alias",
			alias: "biomistral",
			repoId: "BioMistral/BioMistral-7B",
			revision: "main",
			commit: COMMIT_MAIN,
		});
		expect(r.path).toBe(join(cache, "models--BioMistral--BioMistral-7B", "snapshots", COMMIT_MAIN));
		expect((await resolveModelRef("mistral", { cwd: root(), env })).repoId).toBe("mistralai/Mistral-7B-Instruct-v0.1");
	});

	test("an alias name that is also a folder in cwd resolves to the folder", async () => {
		await mkdir(join(root(), "cwd", "mistral"), { recursive: true });
		const r = await resolveModelRef("mistral", { cwd: join(root(), "cwd"), env });
		expect(r.via).toBe("path");
		await rm(join(root(), "cwd", "mistral"), { recursive: true });
	});

	test("HF id with refs/main, with @branch and with @commit", async () => {
		const opts = { cwd: join(root(), "cwd"), env };
		const main = await resolveModelRef("BioMistral/BioMistral-7B", opts);
		expect(main).toMatchObject({ via: "hf-cache", repoId: "BioMistral/BioMistral-7B", revision: "main", commit: COMMIT_MAIN });
		const branch = await resolveModelRef("BioMistral/BioMistral-7B@v0.1", opts);
		expect(branch).toMatchObject({
			revision: "v0.1",
			commit: COMMIT_OLD,
			path: join(cache, "models--BioMistral--BioMistral-7B", "snapshots", COMMIT_OLD),
		});
		const commit = await resolveModelRef(`org/only-snapshot@${COMMIT_OLD}`, opts);
		expect(commit).toMatchObject({ via: "hf-cache", commit: COMMIT_OLD, revision: COMMIT_OLD });
	});

	test("cache root: HF_HUB_CACHE, else HF_HOME/hub, else XDG / ~/.cache", () => {
		expect(hfCacheRoot({ HF_HUB_CACHE: "/a", HF_HOME: "/b" })).toBe("/a");
		expect(hfCacheRoot({ HF_HOME: "/b" })).toBe(join("/b", "hub"));
		expect(hfCacheRoot({ XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe(join("/x", "huggingface", "hub"));
		expect(hfCacheRoot({ HOME: "/h" })).toBe(join("/h", ".cache", "huggingface", "hub"));
	});

	test("HF_HOME is honoured by resolveModelRef", async () => {
		const r = await resolveModelRef("BioMistral/BioMistral-7B", {
			cwd: root(),
			env: { HF_HOME: join(root(), "hf"), HOME: env.HOME, HF_HUB_OFFLINE: "1" },
		});
		expect(r.commit).toBe(COMMIT_MAIN);
	});
});

describe("user aliases", () => {
	test("a YAML file from LM_MERGE_CONFIG: paths relative to the file, HF ids, overriding built-ins", async () => {
		const file = join(root(), "recipes", "lm-merge.yaml");
		await writeFile(
			file,
			`aliases:\n  mine: ./rel\n  Old-Bio: BioMistral/BioMistral-7B@v0.1\n  mistral: org/only-snapshot@${COMMIT_OLD}\n`,
		);
		const opts = { cwd: join(root(), "cwd"), env: { ...env, LM_MERGE_CONFIG: file } };
		expect(await resolveModelRef("mine", opts)).toMatchObject({ via: "alias", alias: "mine", path: join(root(), "recipes", "rel") });
		expect(await resolveModelRef("old-bio", opts)).toMatchObject({ via: "alias", commit: COMMIT_OLD });
		expect(await resolveModelRef("mistral", opts)).toMatchObject({ via: "alias", repoId: "org/only-snapshot" });
	});

	test("the default JSON file under ~/.config/lm-merge, and an explicit aliasesFile", async () => {
		await mkdir(join(env.HOME ?? "", ".config", "lm-merge"), { recursive: true });
		await writeFile(
			join(env.HOME ?? "", ".config", "lm-merge", "config.json"),
			JSON.stringify({ aliases: { abs: join(root(), "recipes", "rel") } }),
		);
		expect((await resolveModelRef("abs", { cwd: root(), env })).path).toBe(join(root(), "recipes", "rel"));
		const file = join(root(), "aliases.json");
		await writeFile(file, JSON.stringify({ aliases: { other: "./cwd" } }));
		expect((await resolveModelRef("other", { cwd: "/", env, aliasesFile: file })).path).toBe(join(root(), "cwd"));
	});

	test.each([["aliases: [1, 2]"], ["aliases:\n  x: 3\n"], ["aliases:\n  a/b: org/x\n"], ["aliases: {unclosed"]])(
		"a malformed alias file → InvalidConfig (%j)",
		async (text) => {
			const file = join(root(), "bad.yaml");
			await writeFile(file, text);
			await expect(resolveModelRef("x", { cwd: root(), env, aliasesFile: file })).rejects.toMatchObject({
				kind: "InvalidConfig",
				location: file,
			});
		},
	);

	test("an explicit alias file that does not exist is an error", async () => {
		await expect(resolveModelRef("x", { cwd: root(), env, aliasesFile: join(root(), "nope.yaml") })).rejects.toMatchObject({
			kind: "InvalidConfig",
		});
	});

	test("an alias whose target is missing says which alias", async () => {
		const file = join(root(), "dangling.yaml");
		await writeFile(file, "aliases:\n  gone: ./does-not-exist\n");
		const err = await resolveModelRef("gone", { cwd: root(), env, aliasesFile: file }).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(ModelError);
		expect((err as ModelError).kind).toBe("NotFound");
		expect((err as ModelError).message).toContain('"gone"');
		expect((err as ModelError).message).toContain(join(root(), "does-not-exist"));
	});
});

describe("expandAlias", () => {
	test("names what an alias stands for without resolving it: uncached Hub ids, paths made absolute, nothing for non-aliases", async () => {
		const file = join(root(), "recipes", "expand.yaml");
		await writeFile(file, "aliases:\n  mine: ./rel\n  far: someone/never-cached@v2\n");
		const opts = { cwd: join(root(), "cwd"), env: { ...env, LM_MERGE_CONFIG: file } };
		expect(await expandAlias("far", opts)).toBe("someone/never-cached@v2");
		expect(await expandAlias("MINE", opts)).toBe(join(root(), "recipes", "rel"));
		expect(await expandAlias("biomistral", opts)).toBe("BioMistral/BioMistral-7B");
		expect(await expandAlias("org/x", opts)).toBeUndefined();
		expect(await expandAlias("models", opts)).toBeUndefined(); // an existing folder: paths win
		await mkdir(join(root(), "cwd", "far"), { recursive: true });
		expect(await expandAlias("far", opts)).toBeUndefined();
	});
});

describe("not found and malformed", () => {
	test("NotFound lists every place, on one line", async () => {
		const err = (await resolveModelRef("acme/missing-7b@dev", { cwd: join(root(), "cwd"), recipeDir: join(root(), "recipes"), env }).catch(
			(e: unknown) => e,
		)) as ModelError;
		expect(err.kind).toBe("NotFound");
		expect(err.message).not.toContain("\n");
		for (const place of [
			join(root(), "cwd", "acme/missing-7b@dev"),
			join(root(), "recipes", "acme/missing-7b@dev"),
			"biomistral",
			join(cache, "models--acme--missing-7b"),
			"refs/dev",
		]) {
			expect(err.message).toContain(place);
		}
	});

	test("an unknown plain name says it is not an HF id", async () => {
		const err = (await resolveModelRef("biomistrall", { cwd: root(), env }).catch((e: unknown) => e)) as ModelError;
		expect(err.kind).toBe("NotFound");
		expect(err.message).toContain("not an org/name");
	});

	test("a known repo with an unknown revision is not found", async () => {
		await expect(resolveModelRef("BioMistral/BioMistral-7B@nope", { cwd: root(), env })).rejects.toMatchObject({ kind: "NotFound" });
	});

	test.each(["org/model+lora", "org/model@main+org/lora@v1", "a@b@c", "@@@@", ""])("%j is rejected", async (ref) => {
		await expect(resolveModelRef(ref, { cwd: root(), env })).rejects.toBeInstanceOf(ModelError);
	});

	test("LoRA references say so", async () => {
		await expect(resolveModelRef("org/model+org/lora", { cwd: root(), env })).rejects.toThrow(/LoRA/);
	});

	test.each([
		["org/name", { repoId: "org/name", revision: undefined }],
		["org/name@v1.0", { repoId: "org/name", revision: "v1.0" }],
		["org/name@refs/pr/1", { repoId: "org/name", revision: "refs/pr/1" }],
		["name", undefined],
		["org/name/extra", undefined],
		["../org/name", undefined],
		["org/name@../x", undefined],
		["org/name@", undefined],
	])("parseHfRef(%j)", (ref, expected) => {
		expect(parseHfRef(ref)).toEqual(expected);
	});
});
