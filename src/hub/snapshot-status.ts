import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type FileSelector, hasWeights, selectMergeFiles, shardsOfIndex } from "./select-files.js";

async function isFile(path: string): Promise<boolean> {
	try {
		return (await stat(path)).isFile();
	} catch {
		return false;
	}
}

/**
 * Whether a cached snapshot folder already holds the weights `select` asks for: the single file, or every shard
 * its index names, each resolving to a file (a dangling link to a deleted blob counts as missing). Side files
 * are not required (a repo may have no tokenizer). Local checks only, so resolving a cached model stays as
 * fast as reading a header.
 */
export async function snapshotIsComplete(dir: string, select: FileSelector = selectMergeFiles): Promise<boolean> {
	let names: string[];
	try {
		names = await readdir(dir);
	} catch {
		return false;
	}
	const present: string[] = [];
	for (const n of names) if (await isFile(join(dir, n))) present.push(n);
	const selection = select(present);
	if (!hasWeights(selection)) return false;
	if (selection.index === undefined) return true;
	let text: string;
	try {
		text = await readFile(join(dir, selection.index), "utf8");
	} catch {
		return false;
	}
	const shards = shardsOfIndex(text);
	if (typeof shards === "string") return true; // present but malformed: openModel reports it with the file named
	for (const s of shards) if (!(await isFile(join(dir, s)))) return false;
	return true;
}
