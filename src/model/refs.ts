import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { ModelError } from "../errors.js";
import { BUILTIN_ALIASES, loadUserAliases } from "./aliases.js";
import { findInHfCache, hfCacheRoot, hfRepoFolderName, parseHfRef } from "./hf-cache.js";

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
}

/** A model reference turned into a local folder or file. */
export interface ResolvedModel {
	/** The reference as given. */
	ref: string;
	/** Absolute path of the model folder (or single file). */
	path: string;
	via: "path" | "alias" | "hf-cache";
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
		throw new ModelError("NotFound", ref, "LoRA references (model+lora) are accepted only as merge inputs (recipe models and the quick commands' model flags)");
	}
	if (ref.split("@").length > 2) {
		throw new ModelError("NotFound", ref, "malformed model reference: more than one \"@\" (expected org/name[@revision])");
	}
}

/** Resolves a Hugging Face id against the local cache; `looked` collects the places tried. */
async function fromCache(target: string, env: NodeJS.ProcessEnv, looked: string[]): Promise<Omit<ResolvedModel, "ref" | "via"> | undefined> {
	const hf = parseHfRef(target);
	if (hf === undefined) return undefined;
	const root = hfCacheRoot(env);
	const hit = await findInHfCache(hf, root);
	if (hit.found) return { path: hit.path, repoId: hf.repoId, revision: hit.revision, commit: hit.commit };
	const repoDir = join(root, hfRepoFolderName(hf.repoId));
	looked.push(`HF cache ${repoDir} (${hit.looked.map((p) => relative(repoDir, p)).join(", ")}; fetch it with \`huggingface-cli download ${hf.repoId}\`)`);
	return undefined;
}

/**
 * Turns a model reference into a local path: an existing path (relative to `cwd`, then `recipeDir`);
 * else an alias (user aliases, then built-ins `biomistral`, `mistral`); else `org/name[@revision]`
 * in the local Hugging Face cache. Throws ModelError "NotFound" listing every place it looked.
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
	const userTarget = user.aliases.get(key);
	const target = userTarget ?? (Object.hasOwn(BUILTIN_ALIASES, key) ? BUILTIN_ALIASES[key] : undefined);
	if (target !== undefined) {
		const source = userTarget !== undefined ? `user alias from ${user.file}` : "built-in alias";
		const hit = await resolveAliasTarget(target, userTarget !== undefined ? dirname(user.file ?? cwd) : cwd, env, looked);
		if (hit !== undefined) return { ref, via: "alias", alias: key, ...hit };
		throw new ModelError("NotFound", given, `${source} "${key}" → "${target}" not found; looked in: ${looked.join("; ")}`);
	}
	const aliasNames = [...new Set([...user.aliases.keys(), ...Object.keys(BUILTIN_ALIASES)])].sort();
	looked.push(`aliases (${aliasNames.join(", ")}; user file: ${user.file ?? `none, tried ${user.looked.join(", ")}`})`);

	const hit = await fromCache(given, env, looked);
	if (hit !== undefined) return { ref, via: "hf-cache", ...hit };
	if (parseHfRef(given) === undefined) looked.push("HF cache: not an org/name[@revision] id");
	throw new ModelError("NotFound", given, `model not found; looked in: ${looked.join("; ")}`);
}

/** An alias points at a path (relative to the alias file's folder) or a Hugging Face id in the cache. */
async function resolveAliasTarget(
	target: string,
	baseDir: string,
	env: NodeJS.ProcessEnv,
	looked: string[],
): Promise<Omit<ResolvedModel, "ref" | "via"> | undefined> {
	const pathLike = isAbsolute(target) || target.startsWith(".") || target.startsWith("~") || parseHfRef(target) === undefined;
	if (pathLike) {
		const [p] = pathCandidates(target, [baseDir], env);
		if (p !== undefined && (await exists(p))) return { path: p };
		looked.push(`path ${p ?? target}`);
		return undefined;
	}
	return fromCache(target, env, looked);
}
