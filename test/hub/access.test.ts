import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { HubError } from "../../src/errors.js";
import { downloadSnapshot } from "../../src/hub/download.js";
import type { DownloadEvent } from "../../src/hub/events.js";
import { resolveHubToken, tokenFilePath } from "../../src/hub/token.js";
import { useTempDir } from "../helpers/fs.js";
import { publishTinyModel } from "../helpers/hub-fixtures.js";
import { FakeHub } from "../helpers/hub-server.js";

const root = useTempDir("lm-merge-hub-access-");
const hub = new FakeHub();
const READER = "hf_reader_token";
const STRANGER = "hf_stranger_token";
let n = 0;

function fresh(extra: Record<string, string> = {}) {
	return {
		cacheDir: path.join(root(), `cache-${n++}`),
		env: { HF_ENDPOINT: hub.url, HOME: path.join(root(), "home"), ...extra },
		retryDelayMs: 1,
	};
}

beforeAll(async () => {
	await hub.start();
	hub.tokens.set(READER, { name: "reader", write: false });
	hub.tokens.set(STRANGER, { name: "stranger", write: false });
	await publishTinyModel(hub, root(), "acme/open", { seed: 1, extras: false });
	await publishTinyModel(hub, root(), "acme/gated", { seed: 2, access: "gated", extras: false });
	await publishTinyModel(hub, root(), "acme/private", { seed: 3, access: "private", extras: false });
	hub.repos.get("acme/gated")!.granted.add(READER);
	hub.repos.get("acme/private")!.granted.add(READER);
});
afterAll(() => hub.stop());

async function failure(repo: string, opts: Parameters<typeof downloadSnapshot>[1]): Promise<HubError> {
	const err = await downloadSnapshot(repo, opts).catch((e: unknown) => e);
	expect(err).toBeInstanceOf(HubError);
	expect((err as Error).message).not.toContain("\n");
	return err as HubError;
}

describe("gated, private and missing repos say which", () => {
	test("gated without a token: 401, and the message says how to get access", async () => {
		const err = await failure("acme/gated", fresh());
		expect(err).toMatchObject({ kind: "Unauthorized", status: 401 });
		expect(err.message).toMatch(/gated.*401.*HF_TOKEN/);
	});

	test("gated with a token whose account was not granted access: 403", async () => {
		const err = await failure("acme/gated", fresh({ HF_TOKEN: STRANGER }));
		expect(err).toMatchObject({ kind: "Forbidden", status: 403 });
		expect(err.message).toContain("$HF_TOKEN");
	});

	test("gated with a granted token downloads", async () => {
		const r = await downloadSnapshot("acme/gated", fresh({ HF_TOKEN: READER }));
		expect(r.files).toContain("config.json");
		const gets = hub.log.filter((l) => l.file?.startsWith("acme/gated:") && l.status === 200);
		expect(gets.length).toBeGreaterThan(0);
		expect(gets.every((l) => l.auth === `Bearer ${READER}`)).toBe(true);
	});

	test("a missing repo: 404 RepoNotFound", async () => {
		const err = await failure("acme/nothing-here", fresh({ HF_TOKEN: READER }));
		expect(err).toMatchObject({ kind: "RepoNotFound", status: 404 });
		expect(err.message).toContain("acme/nothing-here");
	});

	test("a private repo without a token: 401, which may be missing or private", async () => {
		const err = await failure("acme/private", fresh());
		expect(err).toMatchObject({ kind: "RepoNotFound", status: 401 });
		expect(err.message).toMatch(/private.*HF_TOKEN/);
	});

	test("an unknown revision: 404 RevisionNotFound", async () => {
		const err = await failure("acme/open", { ...fresh(), revision: "v9" });
		expect(err).toMatchObject({ kind: "RevisionNotFound", status: 404 });
	});

	test("a rejected token: 401 naming where the token came from", async () => {
		const err = await failure("acme/open", fresh({ HF_TOKEN: "hf_not_a_real_one" }));
		expect(err).toMatchObject({ kind: "Unauthorized", status: 401 });
		expect(err.message).toContain("$HF_TOKEN");
	});

	test("an unreachable endpoint is a Network error naming it", async () => {
		const err = await failure("acme/open", { ...fresh(), env: { HF_ENDPOINT: "http://127.0.0.1:9", HOME: root() } });
		expect(err).toMatchObject({ kind: "Network" });
		expect(err.message).toContain("http://127.0.0.1:9");
	});
});

describe("offline mode", () => {
	test.each([
		["HF_HUB_OFFLINE=1", { HF_HUB_OFFLINE: "1" }, {}],
		["offline: true", {}, { offline: true }],
	])("%s makes no request and says so", async (_, env, flag) => {
		const before = hub.log.length;
		const err = await failure("acme/open", { ...fresh(env), ...flag });
		expect(err).toMatchObject({ kind: "Offline" });
		expect(hub.log.length).toBe(before);
	});
});

describe("tokens", () => {
	test("HF_TOKEN wins, then HUGGING_FACE_HUB_TOKEN, then the token file the Python CLI writes", async () => {
		const home = path.join(root(), "hf-home");
		await mkdir(home, { recursive: true });
		await writeFile(path.join(home, "token"), "hf_from_file\n");
		expect(tokenFilePath({ HF_HOME: home })).toBe(path.join(home, "token"));
		expect(await resolveHubToken({ HF_HOME: home })).toEqual({ token: "hf_from_file", source: path.join(home, "token") });
		expect(await resolveHubToken({ HF_HOME: home, HUGGING_FACE_HUB_TOKEN: "hf_legacy" })).toMatchObject({ token: "hf_legacy" });
		expect(await resolveHubToken({ HF_HOME: home, HF_TOKEN: "hf_env", HUGGING_FACE_HUB_TOKEN: "hf_legacy" })).toMatchObject({
			token: "hf_env",
			source: "$HF_TOKEN",
		});
		expect(await resolveHubToken({ HF_TOKEN_PATH: path.join(home, "nope") })).toBeUndefined();
	});

	test("the token file gives access to a gated repo", async () => {
		const home = path.join(root(), "hf-home-2");
		await mkdir(home, { recursive: true });
		await writeFile(path.join(home, "token"), READER);
		const r = await downloadSnapshot("acme/gated", { ...fresh({ HF_HOME: home }) });
		expect(r.files).toContain("config.json");
	});

	test("a malformed token is refused before any request, naming its source", async () => {
		await expect(resolveHubToken({ HF_TOKEN: "not a token" })).rejects.toMatchObject({
			kind: "InvalidToken",
			message: expect.stringContaining("$HF_TOKEN"),
		});
	});
});

describe("concurrent downloads share one cache safely", () => {
	test("two downloads of the same repo at once transfer each file once", async () => {
		const opts = fresh();
		const before = hub.log.length;
		const [a, b] = await Promise.all([downloadSnapshot("acme/open", opts), downloadSnapshot("acme/open", opts)]);
		expect(a.path).toBe(b.path);
		const gets = hub.log.slice(before).filter((l) => l.method === "GET" && l.file !== undefined && l.status === 200);
		const perFile = new Map<string, number>();
		for (const g of gets) perFile.set(g.file!, (perFile.get(g.file!) ?? 0) + 1);
		expect([...perFile.values()].every((c) => c === 1)).toBe(true);
		expect(perFile.size).toBe(a.files.length);
	});

	test("a blob locked by another process (as Python's filelock does, with flock) is waited for", async () => {
		const opts = fresh();
		const cfg = hub.repos.get("acme/open")!.resolve("main")!.files.get("config.json")!;
		const lock = path.join(opts.cacheDir, ".locks", "models--acme--open", `${cfg.gitSha1}.lock`);
		await mkdir(path.dirname(lock), { recursive: true });
		const holder = spawn("flock", ["--exclusive", lock, "-c", "printf 'held\\n'; exec cat"], { stdio: ["pipe", "pipe", "inherit"] });
		await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
		const events: DownloadEvent[] = [];
		let finished = false;
		const run = downloadSnapshot("acme/open", { ...opts, onEvent: (e) => events.push(e) }).then((r) => {
			finished = true;
			return r;
		});
		await new Promise((r) => setTimeout(r, 1500));
		expect(finished).toBe(false);
		expect(events).toContainEqual({ event: "waiting", path: "config.json", lock });
		holder.stdin.end();
		const r = await run;
		expect(JSON.parse(await readFile(path.join(r.path, "config.json"), "utf8"))).toHaveProperty("num_hidden_layers", 2);
	});
});
