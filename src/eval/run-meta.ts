import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { DataFileReport } from "./types.js";

/** SHA-256 and size of each data file a run read, so a report says exactly which data produced it. */
export async function hashDataFiles(files: readonly string[]): Promise<DataFileReport[]> {
	const out: DataFileReport[] = [];
	for (const file of files) {
		const hash = createHash("sha256");
		let bytes = 0;
		for await (const chunk of createReadStream(file)) {
			hash.update(chunk as Buffer);
			bytes += (chunk as Buffer).length;
		}
		out.push({ path: resolve(file), sha256: hash.digest("hex"), bytes });
	}
	return out;
}

/**
 * A cheap identity of a model's files (name, size, modification time): enough for `--resume` to notice a
 * model folder that was merged again in between, without hashing gigabytes on every run.
 */
export async function modelFilesSignature(path: string): Promise<string[]> {
	const s = await stat(path);
	if (!s.isDirectory()) return [`${resolve(path)}:${s.size}:${Math.trunc(s.mtimeMs)}`];
	const names = (await readdir(path)).filter((n) => /\.(safetensors|json|gguf)$/.test(n)).sort();
	const out: string[] = [];
	for (const name of names) {
		const f = await stat(join(path, name));
		out.push(`${name}:${f.size}:${Math.trunc(f.mtimeMs)}`);
	}
	return out;
}
