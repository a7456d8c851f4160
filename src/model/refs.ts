import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { HubError, ModelError } from "../errors.js";
import { downloadSnapshot } from "../hub/download.js";
import type { DownloadEvent } from "../hub/events.js";
import { isCommitHash } from "../hub/repo-id.js";
import { isOffline } from "../hub/settings.js";
import { snapshotIsComplete } from "../hub/snapshot-status.js";
import { BUILTIN_ALIASES, loadUserAliases, type UserAliases } from "./aliases.js";
import { DEFAULT_REVISION, findInHfCache, hfCacheRoot, hfRepoFolderName, parseHfRef } from "./hf-cache.js";

export { BUILTIN_ALIASES } from "./aliases.js";

/** Where to look when resolving a model reference. */
export interface ResolveOptions {
	/** Relative paths are tried against this folder first (default: process.cwd()). */
	cwd?: string;
	/** Then against this one (the recipe file's folder). */
	recipeDir?: string;
	/** Environment for HF_HUB_CACHE / HF_HOME / LM_MERGE_CONFIG / HOME (default: process.env). */
	env?: NodeJS.ProcessEnv;
	/** The user alias config file; default `$LM_MERGE_CONFIG`, else `~/.config/lm-merge/config.{yaml,yml,json}`. */
	aliasesFile?: string;
	/** Never contact the Hub (also `HF_HUB_OFFLINE=1`): a repo id must then be in the cache. */
	offline?: boolean;
	/**
	 * Ask the Hub where a branch or tag points now, even when a cached snapshot satisfies it, and download
	 * what changed. Without it a cached branch is used as it is (a commit id never moves either way).
	 */
	refresh?: boolean;
	/** Progress of a download made to resolve a repo id (the Hub endpoint, token and cache come from `env`). */
	onDownload?: (e: DownloadEvent) => void;
	signal?: AbortSignal;
}

/** A model reference turned into a local folder or file. */
export interface ResolvedModel {
	/** The reference as given. */
	ref: string;
	/** Absolute path of the model folder (or single file). */
	path: string;
	/** "hub" when the model was downloaded (into the cache) to resolve it. */
	via: "path" | "alias" | "hf-cache" | "hub";
	/** The Hugging Face repo id, when the model came from the cache. */
	repoId?: string;
	/** The revision asked for (default "main"), when the model came from the cache. */
	revision?: string;
	/** The snapshot's commit hash, when the model came from the cache. */
	commit?: string;
	/** The alias name, when `via` is "alias". */
	alias?: string;
}

async function exists(path: string): Promise<boolean> {
	try {
		await stat(path);
		return true;
	} catch {
		return false;
	}
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
	return p === "~" || p.startsWith("~/") ? join(env.HOME || homedir(), p.slice(1)) : p;
}

/** Candidate paths for a path-like reference, in lookup order, without duplicates. */
function pathCandidates(ref: string, bases: Array<string | undefined>, env: NodeJS.ProcessEnv): string[] {
	const p = expandHome(ref, env);
	if (isAbsolute(p)) return [p];
	return [...new Set(bases.filter((b): b is string => b !== undefined).map((b) => resolve(b, p)))];
}

/** Rejects LoRA suffixes (only merge inputs take them: model/adapter-ref.ts) and what is never a valid reference. */
function checkSyntax(ref: string): void {
	if (ref.includes("+")) {
		throw new ModelError(
			"NotFound",
			ref,
			"LoRA references (model+lora) are accepted only as merge inputs (recipe models and the quick commands' model flags)",
		);
	}
	if (ref.split("@").length > 2) {
		throw new ModelError("NotFound", ref, 'malformed model reference: more than one "@" (expected org/name[@revision])');
	}
}

type HfHit = Omit<ResolvedModel, "ref" | "via"> & { downloaded: boolean };

/**
 * Resolves a Hugging Face id: from the cache when a snapshot there holds the weights (no request: a commit
 * id, or a branch/tag as last seen unless `refresh`), else by downloading it into the cache, unless offline.
 * A repo or revision the Hub does not have adds to `looked`; other Hub failures (401/403, network) are thrown.
 */
async function fromHf(target: string, opts: ResolveOptions, env: NodeJS.ProcessEnv, looked: string[]): Promise<HfHit | undefined> {
	const hf = parseHfRef(target);
	if (hf === undefined) return undefined;
	const root = hfCacheRoot(env);
	const revision = hf.revision ?? DEFAULT_REVISION;
	const hit = await findInHfCache(hf, root);
	const offline = isOffline(env, opts.offline);
	const complete = hit.found && (await snapshotIsComplete(hit.path));
	const cached = hit.found
		? { path: hit.path, repoId: hf.repoId, revision: hit.revision, commit: hit.commit, downloaded: false }
		: undefined;
	if (cached !== undefined && (offline || (complete && (opts.refresh !== true || isCommitHash(revision))))) return cached;
	const repoDir = join(root, hfRepoFolderName(hf.repoId));
	const cacheNote = hit.found ? `snapshots/${hit.commit} lacks weights` : hit.looked.map((p) => relative(repoDir, p)).join(", ");
	if (offline) {
		looked.push(
			`HF cache ${repoDir} (${cacheNote}; offline mode is on (HF_HUB_OFFLINE or --offline), so it was not downloaded: ` +
				`run \`merge download ${target}\` while online)`,
		);
		return undefined;
	}
	try {
		const r = await downloadSnapshot(hf.repoId, {
			env,
			revision,
			...(opts.signal !== undefined ? { signal: opts.signal } : {}),
			...(opts.onDownload !== undefined ? { onEvent: opts.onDownload } : {}),
		});
		return { path: r.path, repoId: hf.repoId, revision, commit: r.commit, downloaded: true };
	} catch (err) {
		if (err instanceof HubError && complete && cached !== undefined && err.kind === "Network") {
			opts.onDownload?.({ event: "warning", message: `${err.message}; using the cached snapshot ${cached.commit}` });
			return cached;
		}
		if (err instanceof HubError && (err.kind === "RepoNotFound" || err.kind === "RevisionNotFound")) {
			looked.push(`HF cache ${repoDir} (${cacheNote})`, `the Hub: ${err.message}`);
			return undefined;
		}
		throw err;
	}
}

/**
 * Turns a model reference into a local path: an existing path (relative to `cwd`, then `recipeDir`);
 * else an alias (user aliases, then built-ins `biomistral`, `mistral`); else `org/name[@revision]`
 * in the local Hugging Face cache, downloaded into it from the Hub when missing (unless offline).
 * Throws ModelError "NotFound" listing every place it looked, or HubError when the Hub refuses (401/403).
 */
export async function resolveModelRef(ref: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
	const env = opts.env ?? process.env;
	const cwd = opts.cwd ?? process.cwd();
	const given = ref.trim();
	if (given === "") throw new ModelError("NotFound", "<empty>", "empty model reference");
	const looked: string[] = [];
	for (const p of pathCandidates(given, [cwd, opts.recipeDir], env)) {
		if (await exists(p)) return { ref, path: p, via: "path" };
		looked.push(`path ${p}`);
	}
	checkSyntax(given);

	const user = await loadUserAliases({ aliasesFile: opts.aliasesFile, env });
	const key = given.toLowerCase();
	const alias = aliasOf(key, user, cwd);
	if (alias !== undefined) {
		const hit = await resolveAliasTarget(alias.target, alias.baseDir, opts, env, looked);
		if (hit !== undefined) return { ref, via: "alias", alias: key, ...withoutFlag(hit) };
		throw new ModelError("NotFound", given, `${alias.source} "${key}" → "${alias.target}" not found; looked in: ${looked.join("; ")}`);
	}
	const aliasNames = [...new Set([...user.aliases.keys(), ...Object.keys(BUILTIN_ALIASES)])].sort();
	looked.push(`aliases (${aliasNames.join(", ")}; user file: ${user.file ?? `none, tried ${user.looked.join(", ")}`})`);

	const hit = await fromHf(given, opts, env, looked);
	if (hit !== undefined) return { ref, via: hit.downloaded ? "hub" : "hf-cache", ...withoutFlag(hit) };
	if (parseHfRef(given) === undefined) looked.push("HF cache: not an org/name[@revision] id");
	throw new ModelError("NotFound", given, `model not found; looked in: ${looked.join("; ")}`);
}

/** The alias `key` names (user aliases first, then the built-ins), the folder its relative paths start from, and where it is defined. */
function aliasOf(key: string, user: UserAliases, cwd: string): { target: string; baseDir: string; source: string } | undefined {
	const userTarget = user.aliases.get(key);
	if (userTarget !== undefined) return { target: userTarget, baseDir: dirname(user.file ?? cwd), source: `user alias from ${user.file}` };
	if (Object.hasOwn(BUILTIN_ALIASES, key)) return { target: BUILTIN_ALIASES[key]!, baseDir: cwd, source: "built-in alias" };
	return undefined;
}

/** An alias target that names a folder rather than a Hugging Face id. */
function isPathLike(target: string): boolean {
	return isAbsolute(target) || target.startsWith(".") || target.startsWith("~") || parseHfRef(target) === undefined;
}

/**
 * What an alias stands for, without touching the disk beyond the alias file or the network: the Hugging Face id
 * (`org/name[@revision]`) or the folder it names (made absolute). Undefined when `ref` is not an alias, including
 * when a path of that name exists (paths win over aliases, as in resolveModelRef()).
 */
export async function expandAlias(
	ref: string,
	opts: Pick<ResolveOptions, "env" | "cwd" | "recipeDir" | "aliasesFile"> = {},
): Promise<string | undefined> {
	const env = opts.env ?? process.env;
	const cwd = opts.cwd ?? process.cwd();
	const given = ref.trim();
	if (given === "") return undefined;
	for (const p of pathCandidates(given, [cwd, opts.recipeDir], env)) if (await exists(p)) return undefined;
	const alias = aliasOf(given.toLowerCase(), await loadUserAliases({ aliasesFile: opts.aliasesFile, env }), cwd);
	if (alias === undefined) return undefined;
	if (!isPathLike(alias.target)) return alias.target;
	return pathCandidates(alias.target, [alias.baseDir], env)[0] ?? alias.target;
}

/** An alias points at a path (relative to the alias file's folder) or a Hugging Face id in the cache. */
async function resolveAliasTarget(
	target: string,
	baseDir: string,
	opts: ResolveOptions,
	env: NodeJS.ProcessEnv,
	looked: string[],
): Promise<HfHit | undefined> {
	if (isPathLike(target)) {
		const [p] = pathCandidates(target, [baseDir], env);
		if (p !== undefined && (await exists(p))) return { path: p, downloaded: false };
		looked.push(`path ${p ?? target}`);
		return undefined;
	}
	return fromHf(target, opts, env, looked);
}

function withoutFlag(hit: HfHit): Omit<ResolvedModel, "ref" | "via"> {
	const { downloaded: _, ...rest } = hit;
	return rest;
}
