/**
 * The two big-header shapes of the header-parse benchmark (issue 12, item 17), as the first 8 + N bytes of a
 * safetensors file (length prefix + JSON) and the size of the whole file they declare. Both are valid headers
 * within the default 100 MB cap, so the reader must open them, and quickly.
 */

/** A header as parseHeader takes it. */
export interface HeaderBytes {
	/** Length prefix and JSON header. */
	bytes: Uint8Array;
	/** Size of the file the header describes (prefix + header + tensor data). */
	fileSize: number;
	/** How many tensors it lists. */
	tensors: number;
}

/** The shapes, by name. */
export const HEADER_SHAPES = {
	/** About 90 MB of `\n` escapes (45 M of them) in one metadata value, no tensors. */
	escapes: () => escapesHeader(90_000_000),
	/** 800,000 small F16 tensors, one entry each (about 56 MB). */
	tensors: () => tensorsHeader(800_000),
} as const;

export type HeaderShape = keyof typeof HEADER_SHAPES;

function withPrefix(json: Uint8Array, dataBytes: number, tensors: number): HeaderBytes {
	const bytes = new Uint8Array(8 + json.length);
	new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
	bytes.set(json, 8);
	return { bytes, fileSize: bytes.length + dataBytes, tensors };
}

/** `{"__metadata__":{"notes":"\n\n…"}}` of about `headerBytes` bytes. */
export function escapesHeader(headerBytes: number): HeaderBytes {
	const head = new TextEncoder().encode('{"__metadata__":{"notes":"');
	const tail = new TextEncoder().encode('"}}');
	const escapes = Math.max(0, Math.floor((headerBytes - head.length - tail.length) / 2));
	const json = new Uint8Array(head.length + 2 * escapes + tail.length);
	json.set(head);
	for (let i = 0, p = head.length; i < escapes; i++, p += 2) {
		json[p] = 0x5c;
		json[p + 1] = 0x6e;
	}
	json.set(tail, head.length + 2 * escapes);
	return withPrefix(json, 0, 0);
}

/** `count` one-element F16 tensors named `t0`, `t1`, … in offset order, as writers emit them. */
export function tensorsHeader(count: number): HeaderBytes {
	const parts = ['{"__metadata__":{"format":"pt"}'];
	for (let i = 0; i < count; i++) parts.push(`,"t${i}":{"dtype":"F16","shape":[1],"data_offsets":[${2 * i},${2 * i + 2}]}`);
	parts.push("}");
	return withPrefix(new TextEncoder().encode(parts.join("")), 2 * count, count);
}
