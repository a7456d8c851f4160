import { type FileHandle, open } from "node:fs/promises";
import { GGUF_MAGIC } from "../gguf/constants.js";
import type { GgufValue } from "../gguf/metadata.js";
import { openGguf } from "../gguf/reader.js";
import { formatBytes, type Io } from "./output.js";

/** Whether `path` is a file that starts with the GGUF magic. */
export async function isGgufFile(path: string): Promise<boolean> {
	let handle: FileHandle;
	try {
		handle = await open(path, "r");
	} catch {
		return false;
	}
	try {
		if (!(await handle.stat()).isFile()) return false;
		const b = new Uint8Array(4);
		const { bytesRead } = await handle.read(b, 0, 4, 0);
		return bytesRead === 4 && new DataView(b.buffer).getUint32(0, true) === GGUF_MAGIC;
	} finally {
		await handle.close();
	}
}

/** Arrays longer than this are summarized ("[32000 strings]") in the text listing. */
const SHOWN_ARRAY_ITEMS = 8;

function show(v: GgufValue): string {
	if (v.kind === "array") {
		const items = Array.from(v.value as ArrayLike<unknown>);
		const head = items
			.slice(0, SHOWN_ARRAY_ITEMS)
			.map((x) =>
				typeof x === "string"
					? JSON.stringify(x)
					: typeof x === "number" && v.itemKind === "float32"
						? String(Number(x.toPrecision(7)))
						: String(x),
			);
		return `[${items.length} ${v.itemKind}${items.length > SHOWN_ARRAY_ITEMS ? `: ${head.join(", ")}, …` : `: ${head.join(", ")}`}]`;
	}
	if (v.kind === "string") return JSON.stringify(v.value.length > 200 ? `${v.value.slice(0, 200)}…` : v.value);
	if (v.kind === "float32") return String(Number(v.value.toPrecision(7)));
	return String(v.value);
}

function jsonValue(v: GgufValue): unknown {
	if (v.kind === "array") return Array.from(v.value as ArrayLike<unknown>, (x) => (typeof x === "bigint" ? x.toString() : x));
	return typeof v.value === "bigint" ? v.value.toString() : v.value;
}

/** `merge inspect x.gguf`: metadata, then every tensor's GGUF name, type, dims and size. */
export async function inspectGguf(io: Io, path: string, json: boolean): Promise<void> {
	const g = await openGguf(path);
	try {
		const bytes = g.tensors.reduce((n, t) => n + t.byteLength, 0);
		const parameters = g.tensors.reduce((n, t) => n + t.dims.reduce((a, d) => a * d, 1), 0);
		if (json) {
			const metadata = Object.fromEntries([...g.metadata].map(([k, v]) => [k, jsonValue(v)]));
			io.out(
				JSON.stringify(
					{
						path,
						format: "gguf",
						version: g.version,
						alignment: g.alignment,
						metadata,
						tensors: g.tensors,
						parameters,
						bytes,
						fileSize: g.fileSize,
					},
					null,
					2,
				),
			);
			return;
		}
		io.out(`GGUF v${g.version}, ${g.metadata.size} metadata keys, ${g.tensors.length} tensors, alignment ${g.alignment}`);
		const kw = Math.max(...[...g.metadata.keys()].map((k) => k.length));
		for (const [k, v] of g.metadata) io.out(`${k.padEnd(kw)}  ${show(v)}`);
		io.out("");
		const w = Math.max(4, ...g.tensors.map((t) => t.name.length));
		io.out(`${"name".padEnd(w)}  type  ${"dims".padEnd(16)}  bytes`);
		for (const t of g.tensors)
			io.out(`${t.name.padEnd(w)}  ${t.type.padEnd(4)}  ${`[${t.dims.join(", ")}]`.padEnd(16)}  ${formatBytes(t.byteLength)}`);
		io.out("");
		io.out(
			`${g.tensors.length} tensors, ${parameters.toLocaleString("en-US")} parameters, ` +
				`${formatBytes(bytes)} of tensor data in a ${formatBytes(g.fileSize)} file`,
		);
	} finally {
		await g.close();
	}
}
