/** The fake Hub's upload endpoints (what @huggingface/hub's createRepo and commit call). */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type HubFile, HubRepo, hubFile } from "./hub-repo.js";
import { type FakeHub, type HubUser, readBody } from "./hub-server.js";

/** The user of a write request, or undefined after answering 401/403 as the Hub does. */
function writer(hub: FakeHub, req: IncomingMessage, res: ServerResponse): HubUser | undefined {
	const user = hub.user(req);
	if (user === undefined || user === "invalid") return void hub.fail(req, res, 401, "", "Invalid username or password.");
	if (!user.write) return void hub.fail(req, res, 403, "", "You don't have the rights to create or write to this repo (read token)");
	return user;
}

/** POST /api/repos/create: 409 when the repo exists. */
export async function createRepoRoute(hub: FakeHub, req: IncomingMessage, res: ServerResponse): Promise<void> {
	const body = JSON.parse((await readBody(req)).toString("utf8")) as { name: string; organization?: string; visibility?: string };
	if (writer(hub, req, res) === undefined) return;
	const id = `${body.organization}/${body.name}`;
	if (hub.repos.has(id)) return hub.fail(req, res, 409, "", "You already created this model repo");
	hub.repos.set(
		id,
		new HubRepo(
			id,
			body.visibility === "private" ? "private" : "public",
			new Set([(req.headers.authorization ?? "").replace(/^Bearer\s+/i, "")]),
		),
	);
	hub.json(req, res, 200, { url: `${hub.url}/${id}`, name: id, id: id });
}

/** POST /api/models/{repo}/preupload/{branch} and /commit/{branch} (NDJSON: header, file, lfsFile, deletedFile). */
export async function uploadRoute(
	hub: FakeHub,
	req: IncomingMessage,
	res: ServerResponse,
	repoId: string,
	op: string,
	branch: string,
): Promise<void> {
	const body = await readBody(req);
	if (writer(hub, req, res) === undefined) return;
	const repo = hub.repos.get(repoId);
	if (repo === undefined) return hub.fail(req, res, 404, "RepoNotFound", "Repository not found");
	if (op === "preupload") {
		const { files } = JSON.parse(body.toString("utf8")) as { files: Array<{ path: string; size: number }> };
		return hub.json(req, res, 200, {
			files: files.map((f) => ({
				path: f.path,
				uploadMode: /\.(safetensors|bin)$/.test(f.path) || f.size > 10_000_000 ? "lfs" : "regular",
				shouldIgnore: false,
			})),
		});
	}
	const lines = body
		.toString("utf8")
		.split("\n")
		.filter((l) => l.trim() !== "")
		.map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
	const changes = new Map<string, HubFile>();
	const deleted: string[] = [];
	let title = "commit";
	for (const { key, value } of lines) {
		if (key === "header") title = String(value.summary ?? title);
		else if (key === "file") changes.set(String(value.path), hubFile(Buffer.from(String(value.content), "base64"), false));
		else if (key === "lfsFile") {
			const content = hub.lfsStore.get(String(value.oid));
			if (content === undefined) return hub.fail(req, res, 422, "", `LFS object ${String(value.oid)} was never uploaded`);
			changes.set(String(value.path), hubFile(content, true));
		} else if (key === "deletedFile") deleted.push(String(value.path));
	}
	const c = repo.commit(branch, title, changes, deleted);
	hub.json(req, res, 200, { commitOid: c.id, commitUrl: `${hub.url}/${repoId}/commit/${c.id}`, success: true });
}

/** POST /{repo}.git/info/lfs/objects/batch: basic transfer, upload actions only for objects not stored yet. */
export async function lfsBatchRoute(hub: FakeHub, req: IncomingMessage, res: ServerResponse, repoId: string): Promise<void> {
	const body = JSON.parse((await readBody(req)).toString("utf8")) as { objects: Array<{ oid: string; size: number }> };
	if (writer(hub, req, res) === undefined) return;
	if (!hub.repos.has(repoId)) return hub.fail(req, res, 404, "RepoNotFound", "Repository not found");
	hub.json(req, res, 200, {
		transfer: "basic",
		objects: body.objects.map((o) => ({
			oid: o.oid,
			size: o.size,
			...(hub.lfsStore.has(o.oid) ? {} : { actions: { upload: { href: `${hub.url}/lfs-upload/${o.oid}` } } }),
		})),
	});
}

/** PUT /lfs-upload/{oid}: stores the object after checking its sha256. */
export async function lfsPutRoute(hub: FakeHub, req: IncomingMessage, res: ServerResponse, oid: string): Promise<void> {
	const body = await readBody(req);
	if (createHash("sha256").update(body).digest("hex") !== oid) return hub.fail(req, res, 400, "", "sha256 mismatch");
	hub.lfsStore.set(oid, body);
	hub.entry(req, 200).sent = 0;
	res.writeHead(200, { ETag: `"${oid}"` });
	res.end();
}
