import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { HubError } from "../../src/errors.js";
import { writeTinyMistral } from "../../src/fixtures/tiny-model.js";
import { downloadSnapshot } from "../../src/hub/download.js";
import type { UploadEvent } from "../../src/hub/events.js";
import { uploadFolder } from "../../src/hub/upload.js";
import { useTempDir } from "../helpers/fs.js";
import { filesOfFolder } from "../helpers/hub-repo.js";
import { FakeHub } from "../helpers/hub-server.js";

const root = useTempDir("lm-merge-hub-up-");
const hub = new FakeHub();
const WRITER = "hf_writer";
const READER = "hf_reader";
let model: string;

const env = (extra: Record<string, string> = {}) => ({ HF_ENDPOINT: hub.url, HOME: path.join(root(), "home"), ...extra });

beforeAll(async () => {
	await hub.start();
	hub.tokens.set(WRITER, { name: "me", write: true });
	hub.tokens.set(READER, { name: "me", write: false });
	model = path.join(root(), "merged");
	await writeTinyMistral(model, { seed: 4, maxShardBytes: 4096 });
	await writeFile(path.join(model, "README.md"), "# merged\n");
	await mkdir(path.join(model, ".cache"), { recursive: true });
	await writeFile(path.join(model, ".cache", "junk"), "not uploaded");
});
afterAll(() => hub.stop());

describe("uploadFolder", () => {
	test("creates the repo, sends weights through LFS and the rest in the commit, in one commit", async () => {
		const events: UploadEvent[] = [];
		const r = await uploadFolder(model, "me/merged", { env: env({ HF_TOKEN: WRITER }), private: true, onEvent: (e) => events.push(e) });
		const repo = hub.repos.get("me/merged")!;
		expect(repo.access).toBe("private");
		expect(r).toMatchObject({ repo: "me/merged", created: true, commit: repo.refs.get("main") });
		const local = await filesOfFolder(model);
		local.delete(".cache/junk");
		const remote = repo.resolve("main")!.files;
		expect([...remote.keys()].sort()).toEqual([...local.keys()].sort());
		for (const [p, f] of local) {
			expect(remote.get(p)!.content).toEqual(f.content);
			expect(remote.get(p)!.lfs).toBe(p.endsWith(".safetensors"));
		}
		const puts = hub.requests("/lfs-upload/").filter((q) => q.method === "PUT");
		expect(puts).toHaveLength([...local.keys()].filter((p) => p.endsWith(".safetensors")).length);
		expect(hub.requests("/api/models/me/merged/commit/main")).toHaveLength(1);
		expect(events[0]).toMatchObject({ event: "planned", files: local.size, created: true });
		expect(events.at(-1)).toMatchObject({ event: "done", commit: r.commit });
	});

	test(
		"an existing repo gets a new commit; " + "LFS objects the Hub already has are not sent again; a download gets the same bytes",
		async () => {
			const before = hub.requests("/lfs-upload/").length;
			await writeFile(path.join(model, "README.md"), "# merged, v2\n");
			const r = await uploadFolder(model, "me/merged", { env: env({ HF_TOKEN: WRITER }), commitMessage: "second" });
			expect(r.created).toBe(false);
			expect(hub.requests("/lfs-upload/").length).toBe(before);
			expect(hub.repos.get("me/merged")!.commits.get(r.commit)!.title).toBe("second");
			const down = await downloadSnapshot("me/merged", { env: env({ HF_TOKEN: WRITER }), cacheDir: path.join(root(), "cache") });
			expect(down.commit).toBe(r.commit);
			for (const f of down.files) expect(await readFile(path.join(down.path, f))).toEqual(await readFile(path.join(model, f)));
		},
	);

	test.each([
		["no token", {}, "Unauthorized"],
		["a read-only token", { HF_TOKEN: READER }, "Forbidden"],
		["offline", { HF_TOKEN: WRITER, HF_HUB_OFFLINE: "1" }, "Offline"],
	])("%s: a one-line HubError", async (_, extra, kind) => {
		const err = await uploadFolder(model, "me/other", { env: env(extra) }).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(HubError);
		expect(err).toMatchObject({ kind });
		expect((err as Error).message).not.toContain("\n");
		expect(hub.repos.has("me/other")).toBe(false);
	});

	test("a missing folder is refused before any request", async () => {
		const before = hub.log.length;
		await expect(uploadFolder(path.join(root(), "nope"), "me/x", { env: env({ HF_TOKEN: WRITER }) })).rejects.toMatchObject({ kind: "Io" });
		expect(hub.log.length).toBe(before);
	});
});
