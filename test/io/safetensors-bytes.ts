/**
 * Hand-built safetensors bytes for the header and reader tests: an 8-byte little-endian length, the
 * header text exactly as given (no padding, no reformatting), then the data bytes. Deliberately does not
 * use the library's writer, so the reader is tested against bytes we control completely.
 */

/** The data section: explicit bytes, or a count of zero bytes. */
export type DataSpec = Uint8Array | number;

/**
 * `header` is used verbatim when it is a string (so tests can craft bad JSON) and JSON.stringify'd
 * otherwise. `length` overrides the length prefix (e.g. 2n ** 60n) without changing what follows.
 */
export function craftFile(header: string | object | Uint8Array, data: DataSpec = 0, length?: bigint): Uint8Array {
	const headerBytes =
		header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
	const dataBytes = typeof data === "number" ? new Uint8Array(data) : data;
	const out = new Uint8Array(8 + headerBytes.length + dataBytes.length);
	new DataView(out.buffer).setBigUint64(0, length ?? BigInt(headerBytes.length), true);
	out.set(headerBytes, 8);
	out.set(dataBytes, 8 + headerBytes.length);
	return out;
}

/** Little-endian bytes of float32 values. */
export function f32Bytes(values: number[]): Uint8Array {
	const out = new Uint8Array(values.length * 4);
	const view = new DataView(out.buffer);
	values.forEach((v, i) => {
		view.setFloat32(i * 4, v, true);
	});
	return out;
}

/** Little-endian bytes of float64 values. */
export function f64Bytes(values: number[]): Uint8Array {
	const out = new Uint8Array(values.length * 8);
	const view = new DataView(out.buffer);
	values.forEach((v, i) => {
		view.setFloat64(i * 8, v, true);
	});
	return out;
}

/** Little-endian bytes of 16-bit patterns (hand-written F16 / BF16 encodings). */
export function u16Bytes(bits: number[]): Uint8Array {
	const out = new Uint8Array(bits.length * 2);
	const view = new DataView(out.buffer);
	bits.forEach((b, i) => {
		view.setUint16(i * 2, b, true);
	});
	return out;
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let at = 0;
	for (const p of parts) {
		out.set(p, at);
		at += p.length;
	}
	return out;
}
