/**
 * JSON strings over UTF-8 bytes, for the header lexer (json-scanner.ts): validation (raw control characters,
 * unknown escapes and lone surrogates are errors, as in serde_json, which the reference reader uses) and, when the
 * value is wanted, unescaping in the same pass into one scratch buffer decoded once, so a string of millions of
 * escapes costs one pass and one decode, never a concatenation per escape. The bytes are valid UTF-8 (checked
 * before), so a string's raw bytes, escapes aside, are its value.
 */

/** Where a scanned string's content lies (bytes [start, end), between its quotes) and whether it holds escapes. */
export interface StringSpan {
	start: number;
	end: number;
	escaped: boolean;
}

/** Reports a syntax error at byte `pos` (InvalidHeaderJson); never returns. */
export type Fail = (pos: number, what: string) => never;

/** 1 for the bytes a string may hold as they are: not a quote, a backslash or a control character. */
const PLAIN = new Uint8Array(256).fill(1, 0x20);
PLAIN[0x22] = 0;
PLAIN[0x5c] = 0;

/** The byte each simple escape stands for (`\n` → 0x0a), indexed by the byte after the backslash; 0 for others. */
const UNESCAPED = new Uint8Array(256);
for (const [e, c] of [
	['"', 0x22],
	["\\", 0x5c],
	["/", 0x2f],
	["b", 0x08],
	["f", 0x0c],
	["n", 0x0a],
	["r", 0x0d],
	["t", 0x09],
] as const)
	UNESCAPED[e.charCodeAt(0)] = c;

/** Value of a hex digit byte, or -1. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX["0123456789abcdef".charCodeAt(i)] = HEX["0123456789ABCDEF".charCodeAt(i)] = i;

/**
 * Validates the string whose opening quote is at b[quote] (the bytes end at `end`), fills `span`, and returns the
 * position after its closing quote.
 */
export function scanString(b: Uint8Array, quote: number, end: number, span: StringSpan, fail: Fail): number {
	let p = quote + 1;
	span.start = p;
	let escaped = false;
	for (;;) {
		while (p < end && PLAIN[b[p]!] === 1) p++;
		if (p >= end) fail(p, "unterminated string");
		const c = b[p]!;
		if (c === 0x22) break;
		if (c !== 0x5c) fail(p, "control character inside a string");
		escaped = true;
		const e = p + 1 < end ? b[p + 1]! : -1;
		if (e === 0x75) p = unicodeEscape(b, p, end, fail);
		else if (e >= 0 && UNESCAPED[e] !== 0) p += 2;
		else fail(p, "invalid escape sequence");
	}
	span.end = p;
	span.escaped = escaped;
	return p + 1;
}

/**
 * scanString, returning the string's value. `buf` is `b` as a Buffer (same memory); `scratch(size)` gives a buffer of
 * at least `size` bytes for unescaping (reused from string to string). The position after the string is span.end + 1.
 */
export function readString(
	b: Uint8Array,
	buf: Buffer,
	quote: number,
	end: number,
	span: StringSpan,
	scratch: (size: number) => Buffer,
	fail: Fail,
): string {
	const start = quote + 1;
	let p = start;
	while (p < end && PLAIN[b[p]!] === 1) p++;
	span.start = start;
	if (p < end && b[p] === 0x22) {
		span.end = p;
		span.escaped = false;
		return buf.toString("utf8", start, p);
	}
	// Unescaping never makes a string longer (each escape is longer than the bytes it stands for), so a buffer as long
	// as the rest of the input holds any string in it: no bound checks in the loop. Only the bytes written are touched.
	const out = scratch(end - start);
	out.set(b.subarray(start, p));
	let o = p - start;
	for (;;) {
		while (p < end) {
			const c = b[p]!;
			if (c === 0x5c) {
				const u = UNESCAPED[b[p + 1]!]!;
				if (!(u > 0)) break;
				out[o++] = u;
				p += 2;
			} else if (PLAIN[c] === 1) {
				out[o++] = c;
				p++;
			} else break;
		}
		const c = p < end ? b[p]! : -1;
		if (c === 0x22) break;
		if (c === 0x5c && b[p + 1] === 0x75) {
			const next = unicodeEscape(b, p, end, fail);
			const hi = hex4(b, p + 2, end, fail);
			o = writeUtf8(out, o, next - p === 12 ? 0x10000 + ((hi - 0xd800) << 10) + (hex4(b, p + 8, end, fail) - 0xdc00) : hi);
			p = next;
			continue;
		}
		fail(p, c < 0 ? "unterminated string" : c === 0x5c ? "invalid escape sequence" : "control character inside a string");
	}
	span.end = p;
	span.escaped = true;
	return out.toString("utf8", 0, o);
}

/** Validates `\uXXXX` (or a surrogate pair written as two escapes) at b[p]; returns the position after it. */
function unicodeEscape(b: Uint8Array, p: number, end: number, fail: Fail): number {
	const hi = hex4(b, p + 2, end, fail);
	if (hi >= 0xdc00 && hi <= 0xdfff) fail(p, "lone low surrogate in a \\u escape");
	if (hi < 0xd800 || hi > 0xdbff) return p + 6;
	if (b[p + 6] !== 0x5c || b[p + 7] !== 0x75) fail(p + 6, "lone high surrogate in a \\u escape");
	const lo = hex4(b, p + 8, end, fail);
	if (lo < 0xdc00 || lo > 0xdfff) fail(p + 6, "high surrogate not followed by a low surrogate");
	return p + 12;
}

function hex4(b: Uint8Array, at: number, end: number, fail: Fail): number {
	let v = 0;
	for (let i = at; i < at + 4; i++) {
		const d = i < end ? HEX[b[i]!]! : -1;
		if (d < 0) fail(at, "expected 4 hex digits after \\u");
		v = v * 16 + d;
	}
	return v;
}

/** Writes code point `cp` as UTF-8 at out[o]; returns the position after it. */
function writeUtf8(out: Uint8Array, o: number, cp: number): number {
	if (cp < 0x80) {
		out[o++] = cp;
	} else if (cp < 0x800) {
		out[o++] = 0xc0 | (cp >> 6);
		out[o++] = 0x80 | (cp & 0x3f);
	} else if (cp < 0x10000) {
		out[o++] = 0xe0 | (cp >> 12);
		out[o++] = 0x80 | ((cp >> 6) & 0x3f);
		out[o++] = 0x80 | (cp & 0x3f);
	} else {
		out[o++] = 0xf0 | (cp >> 18);
		out[o++] = 0x80 | ((cp >> 12) & 0x3f);
		out[o++] = 0x80 | ((cp >> 6) & 0x3f);
		out[o++] = 0x80 | (cp & 0x3f);
	}
	return o;
}
