/**
 * A small Hugging Face Hub for tests, on 127.0.0.1, speaking the HTTP endpoints @huggingface/hub and lm-merge use:
 * revision info, tree, paths-info, resolve (GET/HEAD, Range), and the upload path (repo create, preupload, LFS
 * batch + PUT, NDJSON commit). It checks tokens like the Hub (401 without, 403 when not granted), can inject faults
 * (drop the connection after N bytes, corrupt a byte, answer an error status), and logs every request so tests can
 * assert what was downloaded and how often.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { filesOfFolder, type HubAccess, type HubFile, HubRepo } from "./hub-repo.js";
import { createRepoRoute, lfsBatchRoute, lfsPutRoute, uploadRoute } from "./hub-upload-routes.js";

export interface LoggedRequest {
	method: string;
	/** Decoded path, without the query. */
	path: string;
	/** For resolve requests: the repo file asked for. */
	file?: string;
	range?: string;
	auth?: string;
	status: number;
	/** Body bytes actually sent. */
	sent: number;
}

/** A fault applied to the next `times` (default 1) GETs of `file` in `repo`. */
export interface HubFault {
	repo: string;
	file: string;
	kind: "drop" | "stall" | "corrupt" | "status";
	/**
	 * drop: close the connection after this many body bytes; stall: send this many and then nothing (until stop()); corrupt: flip the bits of
	 * the body byte at this offset.
	 */
	at?: number;
	/** status: the HTTP status to answer with. */
	status?: number;
	times?: number;
}

/** Valid tokens: `write` ones may create repos and commit. */
export interface HubUser {
	name: string;
	write: boolean;
}

export class FakeHub {
	readonly repos = new Map<string, HubRepo>();
	readonly log: LoggedRequest[] = [];
	readonly tokens = new Map<string, HubUser>();
	readonly faults: HubFault[] = [];
	/** LFS objects received by PUT, by sha256. */
	readonly lfsStore = new Map<string, Buffer>();
	/** When set, LFS resolves answer 302 to a /lfs-cdn/ URL, as the Hub redirects to its CDN. */
	redirectLfs = false;
	url = "";
	private server: Server | undefined;

	async start(): Promise<string> {
		this.server = createServer((req, res) => {
			this.handle(req, res).catch((err: unknown) => {
				if (!res.headersSent) this.json(req, res, 500, { error: String(err) });
				else res.destroy();
			});
		});
		await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
		this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
		return this.url;
	}

	async stop(): Promise<void> {
		this.server?.closeAllConnections();
		await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
	}

	/** Publishes every file under `dir` as one commit on `branch` of `repoId` (created if needed). */
	async publish(repoId: string, dir: string, opts: { access?: HubAccess; branch?: string; title?: string } = {}): Promise<string> {
		const repo = this.repos.get(repoId) ?? new HubRepo(repoId, opts.access ?? "public");
		if (opts.access !== undefined) repo.access = opts.access;
		this.repos.set(repoId, repo);
		return repo.commit(opts.branch ?? "main", opts.title ?? "initial commit", await filesOfFolder(dir)).id;
	}

	/** GET requests of `file` in `repo` that sent a body (200 or 206): how often it was transferred. */
	transfers(repo: string, file: string): LoggedRequest[] {
		return this.log.filter((r) => r.method === "GET" && r.file === `${repo}:${file}` && (r.status === 200 || r.status === 206));
	}

	/** Every request whose path starts with `prefix`. */
	requests(prefix = "/"): LoggedRequest[] {
		return this.log.filter((r) => r.path.startsWith(prefix));
	}

	/** Logs a request (helpers for the route modules). */
	entry(req: IncomingMessage, status: number, extra: Partial<LoggedRequest> = {}): LoggedRequest {
		const e: LoggedRequest = {
			method: req.method ?? "GET",
			path: decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname),
			status,
			sent: 0,
			...(req.headers.range !== undefined ? { range: req.headers.range } : {}),
			...(req.headers.authorization !== undefined ? { auth: req.headers.authorization } : {}),
			...extra,
		};
		this.log.push(e);
		return e;
	}

	json(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
		const text = JSON.stringify(body);
		this.entry(req, status).sent = text.length;
		res.writeHead(status, { "Content-Type": "application/json", ...headers });
		res.end(text);
	}

	fail(req: IncomingMessage, res: ServerResponse, status: number, code: string, error: string): void {
		this.json(req, res, status, { error }, code !== "" ? { "X-Error-Code": code } : {});
	}

	user(req: IncomingMessage): HubUser | undefined | "invalid" {
		const auth = req.headers.authorization;
		if (auth === undefined) return undefined;
		return this.tokens.get(auth.replace(/^Bearer\s+/i, "")) ?? "invalid";
	}

	/** The repo if this request may read it; otherwise answers as the Hub does and returns undefined. */
	private readable(req: IncomingMessage, res: ServerResponse, repoId: string): HubRepo | undefined {
		const repo = this.repos.get(repoId);
		const user = this.user(req);
		if (user === "invalid") return void this.fail(req, res, 401, "", "Invalid credentials in Authorization header");
		if (repo === undefined) return void this.fail(req, res, user === undefined ? 401 : 404, "RepoNotFound", "Repository not found");
		const token = (req.headers.authorization ?? "").replace(/^Bearer\s+/i, "");
		if (repo.access === "public" || repo.granted.has(token)) return repo;
		if (repo.access === "gated")
			return void this.fail(
				req,
				res,
				user === undefined ? 401 : 403,
				"GatedRepo",
				`Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it.`,
			);
		return void this.fail(req, res, user === undefined ? 401 : 404, "RepoNotFound", "Repository not found");
	}

	private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const url = new URL(req.url ?? "/", this.url);
		const parts = url.pathname.split("/").slice(1).map(decodeURIComponent);
		const method = req.method ?? "GET";
		if (parts[0] === "api" && parts[1] === "models" && parts.length >= 5) {
			const repoId = `${parts[2]}/${parts[3]}`;
			const [op, ...rest] = parts.slice(4);
			if (op === "preupload" || op === "commit") return uploadRoute(this, req, res, repoId, op, rest.join("/"));
			const repo = this.readable(req, res, repoId);
			if (repo === undefined) return;
			if (op === "revision" && method === "GET") return this.revisionInfo(req, res, repo, rest.join("/"));
			if (op === "tree" && method === "GET") return this.tree(req, res, repo, rest[0] ?? "main", rest.slice(1).join("/"));
			if (op === "paths-info" && method === "POST") return this.pathsInfo(req, res, repo, rest.join("/"));
		}
		if (parts[0] === "api" && parts[1] === "repos" && parts[2] === "create" && method === "POST") return createRepoRoute(this, req, res);
		if (parts.length === 6 && parts[1]?.endsWith(".git") && parts.slice(2).join("/") === "info/lfs/objects/batch") {
			return lfsBatchRoute(this, req, res, `${parts[0]}/${parts[1].slice(0, -4)}`);
		}
		if (parts[0] === "lfs-upload" && method === "PUT") return lfsPutRoute(this, req, res, parts[1] ?? "");
		if (parts[0] === "lfs-cdn" && (method === "GET" || method === "HEAD")) {
			const [repoId, file] = [url.searchParams.get("repo") ?? "", url.searchParams.get("file") ?? ""];
			const f = [...this.lfsObjects()].find(([oid]) => oid === parts[1])?.[1];
			if (f === undefined) return this.fail(req, res, 404, "EntryNotFound", "no such object");
			return this.send(req, res, repoId, file, f, {});
		}
		if (parts.length >= 5 && parts[2] === "resolve" && (method === "GET" || method === "HEAD")) {
			return this.resolve(req, res, `${parts[0]}/${parts[1]}`, parts[3]!, parts.slice(4).join("/"));
		}
		this.fail(req, res, 404, "", `no route for ${method} ${url.pathname}`);
	}

	private *lfsObjects(): Generator<[string, HubFile]> {
		for (const repo of this.repos.values())
			for (const c of repo.commits.values()) for (const f of c.files.values()) if (f.lfs) yield [f.sha256, f];
	}

	private revisionInfo(req: IncomingMessage, res: ServerResponse, repo: HubRepo, revision: string): void {
		const c = repo.resolve(revision);
		if (c === undefined) {
			this.fail(req, res, 404, "RevisionNotFound", `Invalid rev id: ${revision}`);
			return;
		}
		this.json(req, res, 200, {
			_id: createHash("sha1").update(repo.id).digest("hex").slice(0, 24),
			id: repo.id,
			sha: c.id,
			private: repo.access === "private",
			gated: repo.access === "gated" ? "manual" : false,
			downloads: 0,
			likes: 0,
			lastModified: "2024-01-01T00:00:00.000Z",
			siblings: [...c.files.keys()].sort().map((rfilename) => ({ rfilename })),
		});
	}

	private describe(path: string, f: HubFile, commit: string): Record<string, unknown> {
		return {
			type: "file",
			path,
			oid: f.gitSha1,
			size: f.lfs ? 134 : f.content.length,
			...(f.lfs ? { lfs: { oid: f.sha256, size: f.content.length, pointerSize: 134 } } : {}),
			lastCommit: { id: commit, title: "commit", date: "2024-01-01T00:00:00.000Z" },
		};
	}

	private tree(req: IncomingMessage, res: ServerResponse, repo: HubRepo, revision: string, prefix: string): void {
		const c = repo.resolve(revision);
		if (c === undefined) {
			this.fail(req, res, 404, "RevisionNotFound", `Invalid rev id: ${revision}`);
			return;
		}
		const entries = [...c.files]
			.filter(([p]) => (prefix === "" ? true : p.startsWith(`${prefix}/`)))
			.map(([p, f]) => this.describe(p, f, c.id));
		this.json(req, res, 200, entries);
	}

	private async pathsInfo(req: IncomingMessage, res: ServerResponse, repo: HubRepo, revision: string): Promise<void> {
		const c = repo.resolve(revision);
		const body = JSON.parse((await readBody(req)).toString("utf8")) as { paths: string[] };
		if (c === undefined) return this.fail(req, res, 404, "RevisionNotFound", `Invalid rev id: ${revision}`);
		this.json(
			req,
			res,
			200,
			body.paths.flatMap((p) => (c.files.has(p) ? [this.describe(p, c.files.get(p)!, c.id)] : [])),
		);
	}

	private resolve(req: IncomingMessage, res: ServerResponse, repoId: string, revision: string, file: string): void {
		const repo = this.readable(req, res, repoId);
		if (repo === undefined) return;
		const c = repo.resolve(revision);
		if (c === undefined) {
			this.fail(req, res, 404, "RevisionNotFound", `Invalid rev id: ${revision}`);
			return;
		}
		const f = c.files.get(file);
		if (f === undefined) {
			this.fail(req, res, 404, "EntryNotFound", `${file} does not exist on "${revision}"`);
			return;
		}
		const headers: Record<string, string> = { "X-Repo-Commit": c.id, ETag: `"${f.lfs ? f.sha256 : f.gitSha1}"` };
		if (f.lfs) Object.assign(headers, { "X-Linked-Etag": `"${f.sha256}"`, "X-Linked-Size": String(f.content.length) });
		if (f.lfs && this.redirectLfs) {
			this.entry(req, 302, { file: `${repoId}:${file}` });
			res.writeHead(302, {
				...headers,
				Location: `/lfs-cdn/${f.sha256}?repo=${encodeURIComponent(repoId)}&file=${encodeURIComponent(file)}`,
			});
			return void res.end();
		}
		this.send(req, res, repoId, file, f, headers);
	}

	/** Sends a file's bytes (whole, or the requested range), applying any pending fault. */
	private send(req: IncomingMessage, res: ServerResponse, repoId: string, file: string, f: HubFile, headers: Record<string, string>): void {
		const size = f.content.length;
		let start = 0;
		let end = size;
		let status = 200;
		const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
		if (req.headers.range !== undefined && range !== null) {
			start = Number(range[1]);
			end = range[2] !== "" ? Math.min(size, Number(range[2]) + 1) : size;
			if (start >= size || start >= end) {
				this.entry(req, 416, { file: `${repoId}:${file}` });
				res.writeHead(416, { ...headers, "Content-Range": `bytes */${size}` });
				return void res.end();
			}
			status = 206;
			headers["Content-Range"] = `bytes ${start}-${end - 1}/${size}`;
		}
		const fault = req.method === "GET" ? this.takeFault(repoId, file) : undefined;
		if (fault?.kind === "status") {
			this.entry(req, fault.status ?? 500, { file: `${repoId}:${file}` });
			res.writeHead(fault.status ?? 500, { "Content-Type": "text/plain" });
			return void res.end("injected failure");
		}
		const log = this.entry(req, status, { file: `${repoId}:${file}` });
		res.writeHead(status, {
			...headers,
			"Content-Length": String(end - start),
			"Accept-Ranges": "bytes",
			"Content-Type": "application/octet-stream",
		});
		if (req.method === "HEAD") return void res.end();
		const body = Buffer.from(f.content.subarray(start, end));
		if (fault?.kind === "corrupt") {
			const at = Math.min(body.length - 1, fault.at ?? 0);
			body[at] = body[at]! ^ 0xff;
		}
		if (fault?.kind === "drop") {
			const n = Math.min(body.length - 1, fault.at ?? 0);
			log.sent = n;
			// Destroyed a moment after the bytes are out, so the client has them (an immediate reset can discard them in flight).
			res.write(body.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 150));
			return;
		}
		if (fault?.kind === "stall") {
			log.sent = Math.min(body.length - 1, fault.at ?? 0);
			res.write(body.subarray(0, log.sent));
			return;
		}
		log.sent = body.length;
		res.end(body);
	}

	private takeFault(repo: string, file: string): HubFault | undefined {
		const i = this.faults.findIndex((f) => f.repo === repo && f.file === file);
		if (i < 0) return undefined;
		const f = this.faults[i]!;
		f.times = (f.times ?? 1) - 1;
		if (f.times <= 0) this.faults.splice(i, 1);
		return f;
	}
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.push(c));
		req.on("end", () => resolve(Buffer.concat(chunks)));
		req.on("error", reject);
	});
}
