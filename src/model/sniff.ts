import { openRegularFile } from "../io/regular-file.js";

/** Bytes read from the start of a file to recognise what it really is; both signatures fit well within it. */
const SNIFF_BYTES = 512;

/**
 * Says what a file that should be safetensors (or JSON) really is, when it is one of the two usual
 * impostors: a Git LFS pointer (the repo was cloned without `git lfs pull`) or an HTML page (a
 * download that got a login or error page). Returns undefined when neither is recognised, and for
 * files that cannot be read or are not regular files (the caller's own open reports that).
 */
export async function sniffImpostor(path: string): Promise<string | undefined> {
	let text: string;
	try {
		const { handle } = await openRegularFile(path, (why) => new Error(why));
		try {
			const buf = new Uint8Array(SNIFF_BYTES);
			const { bytesRead } = await handle.read(buf, 0, SNIFF_BYTES, 0);
			text = new TextDecoder("utf-8", { fatal: false }).decode(buf.subarray(0, bytesRead));
		} finally {
			await handle.close();
		}
	} catch {
		return undefined;
	}
	return describeImpostor(text);
}

/** The pure part of sniffImpostor, on the first bytes of a file decoded as text. */
function describeImpostor(head: string): string | undefined {
	const start = head
		.replace(/^\uFEFF/, "")
		.trimStart()
		.toLowerCase();
	if (start.startsWith("version https://git-lfs")) {
		return "is a Git LFS pointer, not the real file (run `git lfs pull` in the model folder, or download it again)";
	}
	if (start.startsWith("<!doctype") || start.startsWith("<html")) {
		return "is an HTML page, not model data (the download probably got a login or error page)";
	}
	return undefined;
}

/**
 * Which reader a weight file needs, from its first bytes: "torch" for what torch.save writes (a zip, `PK\x03\x04`, or
 * a pickle stream starting with PROTO 2, `\x80\x02`; torch.load tells them apart the same way), else "safetensors"
 * (whose first 8 bytes are a little-endian header length). Unreadable files are "safetensors": its reader reports why.
 */
export async function sniffWeightFormat(path: string): Promise<"torch" | "safetensors"> {
	try {
		const { handle } = await openRegularFile(path, (why) => new Error(why));
		try {
			const head = new Uint8Array(4);
			const { bytesRead } = await handle.read(head, 0, 4, 0);
			const zip = bytesRead === 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
			const pickle = bytesRead >= 2 && head[0] === 0x80 && head[1] === 0x02;
			return zip || pickle ? "torch" : "safetensors";
		} finally {
			await handle.close();
		}
	} catch {
		return "safetensors";
	}
}
