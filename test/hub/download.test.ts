import { lstat, mkdir, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { HubError } from "../../src/errors.js";
import { downloadSnapshot } from "../../src/hub/download.js";
import type { DownloadEvent } from "../../src/hub/events.js";
import { exists, useTempDir } from "../helpers/fs.js";
import { publishTinyModel } from "../helpers/hub-fixtures.js";
import { filesOfFolder } from "../helpers/hub-repo.js";
import { FakeHub } from "../helpers/hub-server.js";

const root = useTempDir("lm-merge-hub-dl-");
const hub = new FakeHub();
let n = 0;

/** A fresh, empty cache per test, and options pointing at the fake Hub. */
function fresh(extra: Record<string, string> = {}) {
	const cacheDir = path.join(root(), `cache-${n++}`);
	return { cacheDir, env: { HF_ENDPOINT: hub.url, HOME: path.join(root(), "home"), ...extra }, retryDelayMs: 1 };
}

async function collectEvents(repo: string, opts: Parameters<typeof downloadSnapshot>[1]) {
	const events: DownloadEvent[] = [];
	const result = await downloadSnapshot(repo, { ...opts, onEvent: (e) => events.push(e) });
	return { result, events };
}

let source: { dir: string; commit: string };

beforeAll(async () => {
	await hub.start();
	source = await publishTinyModel(hub, root(), "acme/tiny-a", { seed: 1 });
});
afterAll(() => hub.stop());

describe("downloadSnapshot", () => {
	test("lays the files out as huggingface_hub does, verified, and only the files a merge needs", async () => {
		const opts = fresh();
		const { result, events } = await collectEvents("acme/tiny-a", opts);
		const repoDir = path.join(opts.cacheDir, "models--acme--tiny-a");
		expect(result.commit).toBe(source.commit);
		expect(result.path).toBe(path.join(repoDir, "snapshots", source.commit));
		expect(await readFile(path.join(repoDir, "refs", "main"), "utf8")).toBe(source.commit);
		const published = await filesOfFolder(source.dir);
		const skipped = ["README.md", "consolidated.safetensors", "original/params.json"];
		expect([...result.files].sort()).toEqual([...published.keys()].filter((f) => !skipped.includes(f)).sort());
		expect(result.files.filter((f) => /^model-0000\d-of-0000\d\.safetensors$/.test(f)).length).toBeGreaterThan(1);
		for (const file of result.files) {
			const pointer = path.join(result.path, file);
			const f = published.get(file)!;
			const etag = f.lfs ? f.sha256 : f.gitSha1;
			expect((await lstat(pointer)).isSymbolicLink()).toBe(true);
			expect(await readlink(pointer)).toBe(`../../blobs/${etag}`);
			expect(await readFile(pointer)).toEqual(f.content);
		}
		expect(published.get("model-00001-of-00004.safetensors")!.lfs).toBe(true);
		expect(published.get("config.json")!.lfs).toBe(false);
		expect((await readdir(path.join(repoDir, "blobs"))).some((b) => b.endsWith(".incomplete"))).toBe(false);
		for (const f of skipped) expect(hub.transfers("acme/tiny-a", f)).toHaveLength(0);
		const resolved = events.find((e) => e.event === "resolved");
		expect(resolved).toMatchObject({ commit: source.commit, files: result.files.length, cachedBytes: 0 });
		expect(events.at(-1)).toMatchObject({ event: "done", downloadedBytes: result.downloadedBytes });
		expect(result.downloadedBytes).toBe(result.files.reduce((s, f) => s + published.get(f)!.content.length, 0));
	});

	test("a second download transfers nothing", async () => {
		const opts = fresh();
		await downloadSnapshot("acme/tiny-a", opts);
		const before = hub.log.length;
		const { result, events } = await collectEvents("acme/tiny-a", opts);
		const after = hub.log.slice(before);
		expect(after.filter((r) => r.path.includes("/resolve/"))).toEqual([]);
		expect(result.downloadedBytes).toBe(0);
		expect(events.filter((e) => e.event === "fileDone").every((e) => e.event === "fileDone" && e.from === "cache")).toBe(true);
	});

	test("a commit id that is cached needs no request at all", async () => {
		const opts = fresh();
		await downloadSnapshot("acme/tiny-a", opts);
		const before = hub.log.length;
		const r = await downloadSnapshot("acme/tiny-a", { ...opts, revision: source.commit });
		expect(r.path).toContain(source.commit);
		expect(hub.log.length).toBe(before);
	});
});

describe("interrupted and damaged transfers", () => {
	const SHARD = "model-00001-of-00004.safetensors";

	test("an interrupted download resumes from its .incomplete file with a Range request", async () => {
		const opts = fresh();
		const f = (await filesOfFolder(source.dir)).get(SHARD)!;
		const blobs = path.join(opts.cacheDir, "models--acme--tiny-a", "blobs");
		await mkdir(blobs, { recursive: true });
		const have = 1000;
		await writeFile(path.join(blobs, `${f.sha256}.incomplete`), f.content.subarray(0, have));
		const before = hub.log.length;
		const { result, events } = await collectEvents("acme/tiny-a", opts);
		const gets = hub.log.slice(before).filter((r) => r.file === `acme/tiny-a:${SHARD}`);
		expect(gets).toEqual([expect.objectContaining({ method: "GET", range: `bytes=${have}-`, status: 206, sent: f.content.length - have })]);
		expect(events).toContainEqual({ event: "fileStart", path: SHARD, size: f.content.length, resumedFrom: have });
		expect(await readFile(path.join(result.path, SHARD))).toEqual(f.content);
	});

	test("a dropped connection is resumed where it stopped", async () => {
		const opts = fresh();
		const f = (await filesOfFolder(source.dir)).get(SHARD)!;
		hub.faults.push({ repo: "acme/tiny-a", file: SHARD, kind: "drop", at: 1500 });
		const before = hub.log.length;
		const { result, events } = await collectEvents("acme/tiny-a", opts);
		const gets = hub.log.slice(before).filter((r) => r.file === `acme/tiny-a:${SHARD}`);
		expect(gets.map((r) => r.range)).toEqual([undefined, "bytes=1500-"]);
		expect(events.some((e) => e.event === "retry" && e.path === SHARD)).toBe(true);
		expect(await readFile(path.join(result.path, SHARD))).toEqual(f.content);
	});

	test("a corrupted byte is caught by the sha256 check: the file is discarded, fetched again, and only then linked", async () => {
		const opts = fresh();
		const f = (await filesOfFolder(source.dir)).get(SHARD)!;
		hub.faults.push({ repo: "acme/tiny-a", file: SHARD, kind: "corrupt", at: 100 });
		const before = hub.log.length;
		const { result, events } = await collectEvents("acme/tiny-a", opts);
		const gets = hub.log.slice(before).filter((r) => r.file === `acme/tiny-a:${SHARD}`);
		expect(gets.map((r) => r.range)).toEqual([undefined, undefined]);
		const retry = events.find((e) => e.event === "retry" && e.path === SHARD);
		expect(retry).toMatchObject({ reason: expect.stringContaining("checksum mismatch") });
		// The link is made after the retry, never for the corrupt bytes.
		expect(events.findIndex((e) => e.event === "fileDone" && e.path === SHARD)).toBeGreaterThan(events.indexOf(retry!));
		expect(await readFile(path.join(result.path, SHARD))).toEqual(f.content);
	});

	test("a mirror that keeps corrupting the file gives an Integrity error and leaves nothing in the cache", async () => {
		const opts = fresh();
		const f = (await filesOfFolder(source.dir)).get(SHARD)!;
		hub.faults.push({ repo: "acme/tiny-a", file: SHARD, kind: "corrupt", at: 7, times: 3 });
		const err = await downloadSnapshot("acme/tiny-a", { ...opts, concurrency: 1 }).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(HubError);
		expect(err).toMatchObject({ kind: "Integrity" });
		expect((err as Error).message).toContain(SHARD);
		const repoDir = path.join(opts.cacheDir, "models--acme--tiny-a");
		expect(await exists(path.join(repoDir, "blobs", f.sha256))).toBe(false);
		expect(await exists(path.join(repoDir, "blobs", `${f.sha256}.incomplete`))).toBe(false);
		expect(await exists(path.join(repoDir, "snapshots", source.commit, SHARD))).toBe(false);
		expect(await exists(path.join(repoDir, "refs", "main"))).toBe(false);
	});

	test("a server error is retried", async () => {
		const opts = fresh();
		hub.faults.push({ repo: "acme/tiny-a", file: "config.json", kind: "status", status: 503 });
		const { result } = await collectEvents("acme/tiny-a", opts);
		expect(JSON.parse(await readFile(path.join(result.path, "config.json"), "utf8"))).toHaveProperty("hidden_size", 16);
	});

	test("redirects to a CDN are followed (the Hub serves LFS files from one)", async () => {
		hub.redirectLfs = true;
		try {
			const opts = fresh();
			const { result } = await collectEvents("acme/tiny-a", opts);
			const f = (await filesOfFolder(source.dir)).get(SHARD)!;
			expect(await readFile(path.join(result.path, SHARD))).toEqual(f.content);
			expect(hub.requests("/lfs-cdn/").length).toBeGreaterThan(0);
		} finally {
			hub.redirectLfs = false;
		}
	});
});

describe("edge cases", () => {
	test("an empty file (small or LFS) is verified and linked without a transfer of bytes", async () => {
		const dir = path.join(root(), "empty-src");
		await mkdir(dir, { recursive: true });
		await writeFile(path.join(dir, "config.json"), "{}\n");
		await writeFile(path.join(dir, "added_tokens.json"), "");
		await writeFile(path.join(dir, "tokenizer.model"), "");
		await writeFile(path.join(dir, "model.safetensors"), await readFile(path.join(source.dir, "model-00001-of-00004.safetensors")));
		await hub.publish("acme/empty-file", dir);
		const r = await downloadSnapshot("acme/empty-file", fresh());
		expect(r.files.sort()).toEqual(["added_tokens.json", "config.json", "model.safetensors", "tokenizer.model"]);
		expect(await readFile(path.join(r.path, "added_tokens.json"), "utf8")).toBe("");
		expect(await readlink(path.join(r.path, "tokenizer.model"))).toBe(
			"../../blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		);
	});

	test("offline, a cached branch (as last downloaded) is reported without a request", async () => {
		const opts = fresh();
		await downloadSnapshot("acme/tiny-a", opts);
		const before = hub.log.length;
		const r = await downloadSnapshot("acme/tiny-a", { ...opts, offline: true });
		expect(r).toMatchObject({ commit: source.commit, downloadedBytes: 0 });
		expect(hub.log.length).toBe(before);
	});
});

test("when one transfer fails, the error is its cause, not the other transfers it stopped", async () => {
	// The first worker stalls on config.json (first in line); the second gets a 403 for generation_config.json.
	hub.faults.push({ repo: "acme/tiny-a", file: "config.json", kind: "stall", at: 100 });
	hub.faults.push({ repo: "acme/tiny-a", file: "generation_config.json", kind: "status", status: 403 });
	const err = await downloadSnapshot("acme/tiny-a", { ...fresh(), concurrency: 2 }).catch((e: unknown) => e);
	expect(err).toMatchObject({ kind: "Forbidden", message: expect.stringContaining("generation_config.json") });
	hub.faults.length = 0;
});
