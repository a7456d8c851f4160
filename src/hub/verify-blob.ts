import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";

/** How a blob's name is computed from its bytes: LFS files by their sha256, other files by their git blob sha1. */
export type BlobHashKind = "sha256" | "git-sha1";

/** A hash that gives the blob name of `size` bytes streamed through it. */
function blobHasher(kind: BlobHashKind, size: number): Hash {
	if (kind === "sha256") return createHash("sha256");
	// git names a blob by sha1("blob <size>\0" + content); the Hub's `oid` and ETag for non-LFS files are that.
	return createHash("sha1").update(`blob ${size}\0`);
}

/** The blob name of a file on disk (read back, so what is verified is what was written). */
export async function hashFile(file: string, kind: BlobHashKind, size: number, signal?: AbortSignal): Promise<string> {
	const h = blobHasher(kind, size);
	for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, ...(signal !== undefined ? { signal } : {}) })) {
		h.update(chunk as Buffer);
	}
	return h.digest("hex");
}
