import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { HubError, ModelError } from "../../src/errors.js";
import type { DownloadEvent } from "../../src/hub/events.js";
import { resolveModelRef } from "../../src/model/refs.js";
import { useTempDir } from "../helpers/fs.js";
import { publishTinyModel } from "../helpers/hub-fixtures.js";
import { FakeHub } from "../helpers/hub-server.js";

const root = useTempDir("lm-merge-hub-resolve-");
const hub = new FakeHub();
let n = 0;
let first: string;

function envFor(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
	return { HF_ENDPOINT: hub.url, HF_HUB_CACHE: path.join(root(), `cache-${n++}`), HOME: path.join(root(), "home"), ...extra };
}

beforeAll(async () => {
	await hub.start();
	first = (await publishTinyModel(hub, root(), "acme/moving", { seed: 1 })).commit;
	await publishTinyModel(hub, root(), "acme/gated", { seed: 2, access: "gated" });
});
afterAll(() => hub.stop());

describe("resolveModelRef downloads what is not cached", () => {
	test("a repo id that is not cached is downloaded; the second resolution makes no request", async () => {
		const env = envFor();
		const events: DownloadEvent[] = [];
		const a = await resolveModelRef("acme/moving", { env, cwd: root(), onDownload: (e) => events.push(e) });
		expect(a).toMatchObject({ via: "hub", repoId: "acme/moving", revision: "main", commit: first });
		expect(a.path).toBe(path.join(env.HF_HUB_CACHE!, "models--acme--moving", "snapshots", first));
		expect(events.some((e) => e.event === "resolved")).toBe(true);
		const before = hub.log.length;
		const b = await resolveModelRef("acme/moving", { env, cwd: root() });
		expect(b).toMatchObject({ via: "hf-cache", path: a.path, commit: first });
		expect(hub.log.length).toBe(before);
	});

	test("a cached branch is used as it is until --refresh asks the Hub where it points now", async () => {
		const env = envFor();
		await resolveModelRef("acme/moving", { env, cwd: root() });
		const second = await publishTinyModel(hub, root(), "acme/moving", { seed: 9 });
		expect(second.commit).not.toBe(first);
		expect((await resolveModelRef("acme/moving", { env, cwd: root() })).commit).toBe(first);
		const fresh = await resolveModelRef("acme/moving", { env, cwd: root(), refresh: true });
		expect(fresh).toMatchObject({ via: "hub", commit: second.commit });
		expect((await resolveModelRef("acme/moving", { env, cwd: root() })).commit).toBe(second.commit);
		// A commit id never moves: --refresh makes no request for it.
		const before = hub.log.length;
		expect((await resolveModelRef(`acme/moving@${first}`, { env, cwd: root(), refresh: true })).commit).toBe(first);
		expect(hub.log.length).toBe(before);
	});

	test("--refresh with the Hub unreachable falls back to the cached snapshot, with a warning", async () => {
		const env = envFor();
		const { commit } = await resolveModelRef("acme/moving", { env, cwd: root() });
		const events: DownloadEvent[] = [];
		const r = await resolveModelRef("acme/moving", {
			env: { ...env, HF_ENDPOINT: "http://127.0.0.1:9" },
			cwd: root(),
			refresh: true,
			onDownload: (e) => events.push(e),
		});
		expect(r).toMatchObject({ via: "hf-cache", commit });
		expect(events).toContainEqual({ event: "warning", message: expect.stringContaining("using the cached snapshot") });
	});

	test("a snapshot that Python left with only config.json is completed", async () => {
		const env = envFor();
		const snap = path.join(env.HF_HUB_CACHE!, "models--acme--moving", "snapshots", first);
		await mkdir(snap, { recursive: true });
		await writeFile(path.join(snap, "config.json"), "{}");
		const r = await resolveModelRef(`acme/moving@${first}`, { env, cwd: root() });
		expect(r).toMatchObject({ via: "hub", commit: first, path: snap });
	});

	test("offline: not downloaded, and the NotFound error says so and how to fetch it", async () => {
		const before = hub.log.length;
		for (const opts of [{ env: envFor({ HF_HUB_OFFLINE: "1" }) }, { env: envFor(), offline: true }]) {
			const err = await resolveModelRef("acme/moving", { ...opts, cwd: root() }).catch((e: unknown) => e);
			expect(err).toBeInstanceOf(ModelError);
			expect(err).toMatchObject({ kind: "NotFound", message: expect.stringMatching(/offline.*merge download acme\/moving/) });
		}
		expect(hub.log.length).toBe(before);
	});

	test("a repo the Hub does not have is NotFound, listing the Hub's 404 with the other places", async () => {
		hub.tokens.set("hf_x", { name: "x", write: false });
		const err = (await resolveModelRef("acme/absent", { env: envFor({ HF_TOKEN: "hf_x" }), cwd: root() }).catch(
			(e: unknown) => e,
		)) as ModelError;
		hub.tokens.delete("hf_x");
		expect(err).toBeInstanceOf(ModelError);
		expect(err.kind).toBe("NotFound");
		expect(err.message).toMatch(/path .*acme\/absent.*HF cache .*the Hub: acme\/absent: .*/);
	});

	test("a gated repo without a token is a HubError (401), not a NotFound", async () => {
		const err = await resolveModelRef("acme/gated", { env: envFor(), cwd: root() }).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(HubError);
		expect(err).toMatchObject({ kind: "Unauthorized", status: 401 });
	});
});
