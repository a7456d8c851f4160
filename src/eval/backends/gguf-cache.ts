import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, realpath, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { exportGgufIter } from "../../gguf/export.js";
import { VERSION } from "../../version.js";
import type { QuantType } from "./types.js";

/**
 * GGUF files converted on the fly for the llama backend, kept in a cache folder and keyed by the content of
 * what the export reads (weights, config.json, tokenizer files) plus the weight format and lm-merge's version:
 * the same merge scored twice converts once; a merge written again into the same folder converts again.
 */

/** Files of a model folder that decide its GGUF (weights, their index, the config, the tokenizer). */
const SOURCE_FILE =
	/^(.*\.safetensors|model\.safetensors\.index\.json|config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json)$/;

/** The cache folder: `dir`, else $LM_MERGE_CACHE/gguf, else $XDG_CACHE_HOME/lm-merge/gguf, else ~/.cache/lm-merge/gguf. */
export function ggufCacheDir(dir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
	if (dir !== undefined) return dir;
	if (env.LM_MERGE_CACHE) return join(env.LM_MERGE_CACHE, "gguf");
	return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "lm-merge", "gguf");
}

async function sha256File(path: string): Promise<string> {
	const hash = createHash("sha256");
	for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
	return hash.digest("hex");
}

/** Memoized file hashes, keyed by real path and checked against size, mtime and inode before reuse. */
type HashMemo = Record<string, { size: number; mtimeMs: number; ino: number; sha256: string }>;

/**
 * SHA-256 of one file. A Hugging Face cache snapshot links to `blobs/<sha256>` for weight files: that name is
 * the hash, so nothing is read. Other files are hashed once and remembered in the cache folder's hashes.json.
 */
async function fileHash(path: string, memo: HashMemo): Promise<{ hash: string; fresh: boolean }> {
	const real = await realpath(path);
	const name = basename(real);
	if (/^[0-9a-f]{64}$/.test(name) && basename(dirname(real)) === "blobs") return { hash: name, fresh: false };
	const s = await stat(real);
	const known = memo[real];
	if (known !== undefined && known.size === s.size && known.mtimeMs === s.mtimeMs && known.ino === s.ino)
		return { hash: known.sha256, fresh: false };
	const sha256 = await sha256File(real);
	memo[real] = { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, sha256 };
	return { hash: sha256, fresh: true };
}

/** The content key of a model folder for weight format `quant`. */
async function sourceKey(model: string, quant: QuantType, cacheDir: string): Promise<string> {
	const memoFile = join(cacheDir, "hashes.json");
	let memo: HashMemo = {};
	try {
		memo = JSON.parse(await readFile(memoFile, "utf8")) as HashMemo;
	} catch {
		// no memo yet (or a damaged one): hash from scratch
	}
	// A single .safetensors file reads its config and tokenizer from its folder, like openModel.
	const single = !(await stat(model)).isDirectory();
	const folder = single ? dirname(model) : model;
	const names = (await readdir(folder))
		.filter((n) => SOURCE_FILE.test(n) && (!single || !n.endsWith(".safetensors") || n === basename(model)))
		.sort();
	const parts: string[] = [`lm-merge ${VERSION}`, `type ${quant}`];
	let changed = false;
	for (const name of names) {
		const { hash, fresh } = await fileHash(join(folder, name), memo);
		changed ||= fresh;
		parts.push(`${name} ${hash}`);
	}
	if (changed) await writeFile(memoFile, `${JSON.stringify(memo, null, 1)}\n`);
	return createHash("sha256").update(parts.join("\n")).digest("hex");
}

/**
 * The cached GGUF of `model` in weight format `quant`, converting it first when absent (the exporter writes a
 * temporary file and renames it, so a cache entry is always complete). `onNote` receives progress lines.
 */
export async function cachedGguf(
	model: string,
	quant: QuantType,
	opts: { cacheDir: string; name: string; onNote?: (m: string) => void; signal?: AbortSignal },
): Promise<string> {
	await mkdir(opts.cacheDir, { recursive: true });
	const key = await sourceKey(model, quant, opts.cacheDir);
	const out = join(opts.cacheDir, `${key.slice(0, 24)}-${quant}.gguf`);
	try {
		if ((await stat(out)).isFile()) return out;
	} catch {
		// not converted yet
	}
	opts.onNote?.(`converting ${opts.name} to GGUF ${quant} (once; cached as ${out})`);
	let lastTenth = 0;
	let lastNote = performance.now();
	const gen = exportGgufIter(model, {
		type: quant,
		out,
		force: true,
		name: opts.name,
		...(opts.signal !== undefined ? { signal: opts.signal } : {}),
	});
	for (;;) {
		const step = await gen.next();
		if (step.done === true) {
			opts.onNote?.(`converted in ${step.value.seconds.toFixed(1)} s: ${(step.value.bytes / 1e6).toFixed(1)} MB`);
			break;
		}
		const e = step.value;
		// The exporter's warnings are about llama.cpp's own tokenizer, which scoring never uses: the evaluator
		// passes token ids from tokenizer.json. `merge export` shows them.
		if (e.event === "tensor") {
			// A line per 10 %, at most every 2 s: quiet for small models, alive for a 7B conversion.
			const tenth = Math.floor((10 * e.doneBytes) / Math.max(1, e.totalBytes));
			if (tenth > lastTenth && tenth < 10 && performance.now() - lastNote > 2000) {
				opts.onNote?.(`converting: ${10 * tenth}%`);
				lastTenth = tenth;
				lastNote = performance.now();
			}
		}
	}
	await writeFile(
		`${out}.json`,
		`${JSON.stringify({ source: model, name: opts.name, type: quant, key, created: new Date().toISOString() }, null, 2)}\n`,
	);
	return out;
}
