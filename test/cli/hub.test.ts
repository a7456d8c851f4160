/**
 * The one-command path from Hub ids to a merged model, end to end through the real CLI and the fake Hub:
 * `merge slerp --a org/base --b org/tuned` downloads both into the HF cache once, merges, and can push the
 * result; `merge download` and `merge upload` alone; one-line errors for gated and missing repos.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openModel } from "../../src/index.js";
import { errorLines, hasStackTrace, runCli } from "../helpers/cli.js";
import { useTempDir } from "../helpers/fs.js";
import { publishTinyModel } from "../helpers/hub-fixtures.js";
import { FakeHub } from "../helpers/hub-server.js";

const root = useTempDir("lm-merge-cli-hub-");
const hub = new FakeHub();
const WRITER = "hf_cli_writer";
let published: { base: { dir: string; commit: string }; tuned: { dir: string; commit: string } };

const env = (extra: Record<string, string> = {}) => ({
	HF_ENDPOINT: hub.url,
	HF_HUB_OFFLINE: "0",
	HF_HUB_CACHE: path.join(root(), "cache"),
	...extra,
});
const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { cwd: root(), env: env(extra) });

beforeAll(async () => {
	await hub.start();
	hub.tokens.set(WRITER, { name: "me", write: true });
	const base = await publishTinyModel(hub, root(), "acme/base", { seed: 11 });
	const tuned = await publishTinyModel(hub, root(), "acme/tuned", { base: base.dir, seed: 12, delta: 0.01 });
	await publishTinyModel(hub, root(), "acme/gated", { seed: 13, access: "gated" });
	published = { base, tuned };
});
afterAll(() => hub.stop());

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

async function shardBytes(dir: string): Promise<Map<string, Buffer>> {
	const out = new Map<string, Buffer>();
	for (const f of (await readdir(dir)).filter((f) => f.endsWith(".safetensors"))) out.set(f, await readFile(path.join(dir, f)));
	return out;
}

describe("merging Hub models", () => {
	test("a merge of two Hub repos downloads them into the cache; run twice, it downloads once", async () => {
		const first = await cli(["slerp", "--a", "acme/base", "--b", "acme/tuned", "--t", "0.5", "--out", "m1"]);
		expect(first.exitCode, first.stderr).toBe(0);
		expect(first.stderr).toContain("downloading acme/base@main");
		expect(first.stderr).toContain("downloading acme/tuned@main");
		const transfers = hub.log.filter((r) => r.method === "GET" && r.file !== undefined).length;
		expect(transfers).toBeGreaterThan(0);

		const second = await cli(["slerp", "--a", "acme/base", "--b", "acme/tuned", "--t", "0.5", "--out", "m2"]);
		expect(second.exitCode, second.stderr).toBe(0);
		expect(second.stderr).not.toContain("downloading");
		expect(hub.log.filter((r) => r.method === "GET" && r.file !== undefined).length).toBe(transfers);
		for (const repo of ["acme/base", "acme/tuned"]) {
			for (const file of ["config.json", "model.safetensors.index.json", "model-00001-of-00004.safetensors"]) {
				expect(hub.transfers(repo, file), `${repo} ${file}`).toHaveLength(1);
			}
		}
		const [m1, m2] = await Promise.all(["m1", "m2"].map((d) => shardBytes(path.join(root(), d))));
		expect(m1!.size).toBeGreaterThan(0);
		expect(m2).toEqual(m1);
		// The same merge from the published folders directly gives the same tensors (the headers' metadata name the inputs).
		const local = await cli(["slerp", "--a", published.base.dir, "--b", published.tuned.dir, "--t", "0.5", "--out", "m3"]);
		expect(local.exitCode, local.stderr).toBe(0);
		expect(await rawTensors(path.join(root(), "m3"))).toEqual(await rawTensors(path.join(root(), "m1")));
	});

	test("--offline with a repo that is not cached fails with one line and makes no request", async () => {
		const before = hub.log.length;
		const r = await cli(["slerp", "--a", "acme/base", "--b", "acme/never-cached", "--t", "0.5", "--out", "m4", "--offline"]);
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toHaveLength(1);
		expect(r.stderr).toMatch(/offline.*merge download acme\/never-cached/);
		expect(hub.log.length).toBe(before);
	});

	test("--push-to-hub uploads the merged folder after the merge", async () => {
		const r = await cli(
			["slerp", "--a", "acme/base", "--b", "acme/tuned", "--t", "0.25", "--out", "m5", "--push-to-hub", "me/pushed", "--private", "--json"],
			{ HF_TOKEN: WRITER },
		);
		expect(r.exitCode, r.stderr).toBe(0);
		const summary = JSON.parse(r.stdout) as { out: string; upload: { repo: string; commit: string; url: string } };
		const repo = hub.repos.get("me/pushed")!;
		expect(repo.access).toBe("private");
		expect(summary.upload).toMatchObject({ repo: "me/pushed", commit: repo.refs.get("main") });
		const files = repo.resolve("main")!.files;
		for (const [name, bytes] of await shardBytes(path.join(root(), "m5"))) expect(files.get(name)!.content).toEqual(bytes);
		expect(files.has("config.json")).toBe(true);
	});
});

describe("merge download and merge upload", () => {
	test("merge download prints the snapshot folder; --json the details", async () => {
		const cache = path.join(root(), "cache-dl");
		const r = await cli(["download", "acme/base"], { HF_HUB_CACHE: cache });
		expect(r.exitCode, r.stderr).toBe(0);
		expect(r.stdout.trim()).toBe(path.join(cache, "models--acme--base", "snapshots", published.base.commit));
		const again = await cli(["download", `acme/base@${published.base.commit}`, "--json"], { HF_HUB_CACHE: cache });
		expect(JSON.parse(again.stdout)).toMatchObject({ repoId: "acme/base", commit: published.base.commit, downloadedBytes: 0 });
	});

	test.each([
		["a gated repo without a token", "acme/gated", /gated repo \(401\).*HF_TOKEN/],
		["a missing repo", "acme/missing", /(401|404)/],
	])("%s: one line, exit 1, no stack trace", async (_, repo, pattern) => {
		const r = await cli(["download", repo], { HF_HUB_CACHE: path.join(root(), "cache-err") });
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toHaveLength(1);
		expect(errorLines(r.stderr)[0]).toMatch(pattern);
		expect(hasStackTrace(r.stderr)).toBe(false);
	});

	test("merge upload FOLDER REPO prints the commit URL", async () => {
		const r = await cli(["upload", path.join(root(), "m1"), "me/uploaded"], { HF_TOKEN: WRITER });
		expect(r.exitCode, r.stderr).toBe(0);
		const repo = hub.repos.get("me/uploaded")!;
		expect(repo.access).toBe("public");
		expect(r.stdout.trim()).toBe(`${hub.url}/me/uploaded/commit/${repo.refs.get("main")}`);
	});

	test("merge upload without a token: one line, exit 1", async () => {
		const r = await cli(["upload", path.join(root(), "m1"), "me/denied"]);
		expect(r.exitCode).toBe(1);
		expect(errorLines(r.stderr)).toEqual([expect.stringContaining("needs a token with write access")]);
	});

	test("usage errors: a malformed repo id, --private without --push-to-hub", async () => {
		expect((await cli(["download", "not-a-repo"])).exitCode).toBe(2);
		const r = await cli(["slerp", "--a", "acme/base", "--b", "acme/tuned", "--t", "0.5", "--private"]);
		expect(r.exitCode).toBe(2);
		expect(r.stderr).toContain("--private only applies with --push-to-hub");
	});
});

/** Size of the .incomplete file in a cache's blobs folder (0 when there is none yet). */
async function partialSize(cache: string, repo: string, file: string): Promise<number> {
	const { statSync } = await import("node:fs");
	const sha = hub.repos.get(repo)!.resolve("main")!.files.get(file)!.sha256;
	try {
		return statSync(path.join(cache, `models--${repo.replace("/", "--")}`, "blobs", `${sha}.incomplete`)).size;
	} catch {
		return 0;
	}
}

describe("a download killed with SIGKILL", () => {
	test("resumes from the bytes already on disk, and the killed process's lock does not block the next one", async () => {
		const { spawnCli, collect } = await import("../helpers/cli.js");
		const cache = path.join(root(), "cache-kill");
		const file = "model-00001-of-00004.safetensors";
		const size = hub.repos.get("acme/base")!.resolve("main")!.files.get(file)!.content.length;
		const at = 1024;
		hub.faults.push({ repo: "acme/base", file, kind: "stall", at });
		const child = spawnCli(["download", "acme/base", "--concurrency", "1"], { cwd: root(), env: env({ HF_HUB_CACHE: cache }) });
		const done = collect(child);
		for (let i = 0; i < 600 && (await partialSize(cache, "acme/base", file)) < at; i++) await new Promise((r) => setTimeout(r, 100));
		expect(await partialSize(cache, "acme/base", file)).toBe(at);
		child.kill("SIGKILL");
		expect((await done).signal).toBe("SIGKILL");

		const before = hub.log.length;
		const again = await cli(["download", "acme/base"], { HF_HUB_CACHE: cache });
		expect(again.exitCode, again.stderr).toBe(0);
		const gets = hub.log.slice(before).filter((r) => r.file === `acme/base:${file}`);
		expect(gets).toEqual([expect.objectContaining({ range: `bytes=${at}-`, status: 206, sent: size - at })]);
		expect(again.stderr).toContain(`resuming ${file} at`);
	});
});

test("Ctrl-C during a download: one line, exit 130, the partial file kept for the next run", async () => {
	const { spawnCli, collect } = await import("../helpers/cli.js");
	const cache = path.join(root(), "cache-int");
	const file = "model-00002-of-00004.safetensors";
	hub.faults.push({ repo: "acme/tuned", file, kind: "stall", at: 512 });
	const child = spawnCli(["download", "acme/tuned", "--concurrency", "1"], { cwd: root(), env: env({ HF_HUB_CACHE: cache }) });
	const done = collect(child);
	for (let i = 0; i < 600 && (await partialSize(cache, "acme/tuned", file)) < 512; i++) await new Promise((r) => setTimeout(r, 100));
	child.kill("SIGINT");
	const r = await done;
	expect(r.exitCode, r.stderr).toBe(130);
	expect(errorLines(r.stderr)).toEqual([expect.stringContaining("interrupted")]);
	expect(await partialSize(cache, "acme/tuned", file)).toBe(512);
});
