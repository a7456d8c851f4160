/**
 * The state of a fake Hub repo for tests: files per commit, branches, and the hashes the Hub reports
 * (sha256 LFS oids for large files, git blob sha1 for small ones). Used by hub-server.ts.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

/** One file as the Hub stores it. */
export interface HubFile {
	content: Buffer;
	/** Stored with Git LFS (served with X-Linked-Etag / X-Linked-Size, oid = sha256). */
	lfs: boolean;
	sha256: string;
	/** git's blob id: sha1("blob <size>\0" + content). */
	gitSha1: string;
}

export interface HubCommit {
	id: string;
	title: string;
	parent: string | undefined;
	files: Map<string, HubFile>;
}

/** Who may read a repo without being granted access: `gated` answers 401/403 GatedRepo, `private` 401 RepoNotFound. */
export type HubAccess = "public" | "gated" | "private";

export class HubRepo {
	readonly commits = new Map<string, HubCommit>();
	readonly refs = new Map<string, string>();

	constructor(
		readonly id: string,
		public access: HubAccess = "public",
		/** Tokens that may read a gated or private repo. */
		readonly granted = new Set<string>(),
	) {}

	/** The commit a revision (branch, tag or commit id) names. */
	resolve(revision: string): HubCommit | undefined {
		const id = this.refs.get(revision) ?? revision;
		return this.commits.get(id);
	}

	/** Adds a commit on `branch` with `files` replacing or adding to the parent's. Returns the new commit. */
	commit(branch: string, title: string, changes: Map<string, HubFile>, deleted: string[] = []): HubCommit {
		const parent = this.refs.get(branch);
		const files = new Map(parent !== undefined ? this.commits.get(parent)!.files : []);
		for (const d of deleted) files.delete(d);
		for (const [p, f] of changes) files.set(p, f);
		const h = createHash("sha1").update(`${this.id}\0${parent ?? ""}\0${title}\0${this.commits.size}`);
		for (const [p, f] of [...files].sort(([a], [b]) => a.localeCompare(b))) h.update(`${p}\0${f.gitSha1}\0`);
		const c: HubCommit = { id: h.digest("hex"), title, parent, files };
		this.commits.set(c.id, c);
		this.refs.set(branch, c.id);
		return c;
	}
}

/** Files the fake Hub stores with LFS, as the Hub's default .gitattributes does (by extension), or past 10 MB. */
export function isLfsPath(p: string, size: number): boolean {
	return /\.(safetensors|bin|gguf|pt|pth|model)$/.test(p) || size > 10_000_000;
}

export function hubFile(content: Buffer, lfs: boolean): HubFile {
	return {
		content,
		lfs,
		sha256: createHash("sha256").update(content).digest("hex"),
		gitSha1: createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex"),
	};
}

/** Every file under `dir` (recursively), keyed by its `/`-separated relative path. */
export async function filesOfFolder(dir: string): Promise<Map<string, HubFile>> {
	const out = new Map<string, HubFile>();
	const walk = async (sub: string) => {
		for (const e of await readdir(path.join(dir, sub), { withFileTypes: true })) {
			const rel = sub === "" ? e.name : `${sub}/${e.name}`;
			if (e.isDirectory()) await walk(rel);
			else {
				const content = await readFile(path.join(dir, rel));
				out.set(rel, hubFile(content, isLfsPath(rel, content.length)));
			}
		}
	};
	await walk("");
	return out;
}
