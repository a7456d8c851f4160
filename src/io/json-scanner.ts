/**
 * A strict JSON lexer over UTF-8 bytes, for safetensors headers. `JSON.parse` cannot be used on its own: it keeps
 * the last of two duplicate keys, turns `2.0` and `2e0` into 2 and accepts lone surrogate escapes, and all three
 * must be rejected. This scanner reads the bytes in place, one pass, linear time: callers walk the structure with
 * it and materialise only what they keep (a tensor name, a dtype, a shape), so parsing allocates little beyond the
 * result. It accepts exactly RFC 8259 JSON (no comments, trailing commas, BOM or NUL padding); the bytes must
 * already be valid UTF-8 (header.ts checks that first), so only strings can hold non-ASCII bytes.
 *
 * Written by hand because no JSON library gives duplicates, number lexemes and a strict grammar at this speed.
 */
import { SafetensorsError } from "../errors.js";

/**
 * Deepest nesting accepted. serde_json, which the reference reader uses, stops at 128 levels by default; the
 * same bound keeps the recursive skipValue far from the JavaScript stack limit on hostile input.
 */
export const MAX_JSON_DEPTH = 128;

/** JSON value types, as error messages name them ("got array"). */
export type JsonType = "object" | "array" | "string" | "number" | "boolean" | "null";

/** scanNumber's result for a number that is not a plain non-negative integer (`-1`, `2.0`, `2e0`). */
export const NOT_PLAIN = -1;
/** scanNumber's result for a plain integer above 2^53 − 1, the largest a JS number holds exactly. */
export const TOO_BIG = -2;

/** 1 for the bytes a string may hold as they are: not a quote, a backslash or a control character. */
const PLAIN = new Uint8Array(256).fill(1, 0x20);
PLAIN[0x22] = 0;
PLAIN[0x5c] = 0;

/** The byte each simple escape stands for (`\n` → 0x0a), indexed by the byte after the backslash; 0 for others. */
const UNESCAPED = new Uint8Array(256);
for (const [e, c] of [['"', 0x22], ["\\", 0x5c], ["/", 0x2f], ["b", 0x08], ["f", 0x0c], ["n", 0x0a], ["r", 0x0d], ["t", 0x09]] as const) UNESCAPED[e.charCodeAt(0)] = c;

/** Value of a hex digit byte, or -1. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX["0123456789abcdef".charCodeAt(i)] = HEX["0123456789ABCDEF".charCodeAt(i)] = i;

export class JsonScanner {
	/** Byte position of the next unread byte. */
	pos = 0;
	/** Content of the last string scanned: bytes [strStart, strEnd), between its quotes. */
	strStart = 0;
	strEnd = 0;
	/** Whether that string holds escapes (then its value is not its bytes as they are). */
	strEscaped = false;
	/** Where the last number scanned starts (its lexeme is bytes [numStart, pos)). */
	numStart = 0;
	private readonly buf: Buffer;
	private readonly end: number;
	private scratch: Buffer = Buffer.alloc(0);

	constructor(
		readonly bytes: Uint8Array,
		readonly file: string,
	) {
		this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
		this.end = bytes.length;
	}

	/** Throws InvalidHeaderJson at the current position. */
	fail(what: string): never {
		const found = this.pos < this.end ? describeByte(this.bytes[this.pos]!) : "end of header";
		throw new SafetensorsError("InvalidHeaderJson", this.file, `header is not valid JSON at byte ${this.pos}: ${what} (found ${found})`);
	}

	get atEnd(): boolean {
		return this.pos >= this.end;
	}

	/** The byte at the current position, or -1 at the end. */
	peek(): number {
		return this.pos < this.end ? this.bytes[this.pos]! : -1;
	}

	/** Skips JSON whitespace: space, tab, LF, CR. */
	skipWhitespace(): void {
		const b = this.bytes;
		let p = this.pos;
		while (p < this.end) {
			const c = b[p]!;
			if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
			p++;
		}
		this.pos = p;
	}

	/** Consumes byte `c` or fails with `what`. */
	expect(c: number, what: string): void {
		if (this.peek() !== c) this.fail(what);
		this.pos++;
	}

	/** Fails unless a container may open at nesting level `depth`. */
	enter(depth: number): void {
		if (depth >= MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
	}

	/**
	 * Scans the string starting at the opening quote at `pos`, validating it, and leaves `pos` after the closing
	 * quote. Rejects raw control characters, unknown escapes and lone surrogates (as serde_json does).
	 */
	scanString(): void {
		const b = this.bytes;
		const end = this.end;
		let p = this.pos + 1;
		this.strStart = p;
		let escaped = false;
		for (;;) {
			while (p < end && PLAIN[b[p]!] === 1) p++;
			if (p >= end) {
				this.pos = p;
				this.fail("unterminated string");
			}
			const c = b[p]!;
			if (c === 0x22) break;
			if (c !== 0x5c) {
				this.pos = p;
				this.fail("control character inside a string");
			}
			escaped = true;
			const e = p + 1 < end ? b[p + 1]! : -1;
			if (e === 0x75) {
				p = this.unicodeEscape(p);
			} else if (e >= 0 && UNESCAPED[e] !== 0) {
				p += 2;
			} else {
				this.pos = p;
				this.fail("invalid escape sequence");
			}
		}
		this.strEnd = p;
		this.strEscaped = escaped;
		this.pos = p + 1;
	}

	/** Validates `\uXXXX` (or a surrogate pair written as two escapes) at `p`; returns the position after it. */
	private unicodeEscape(p: number): number {
		const hi = this.hex4(p + 2);
		if (hi >= 0xdc00 && hi <= 0xdfff) {
			this.pos = p;
			this.fail("lone low surrogate in a \\u escape");
		}
		if (hi < 0xd800 || hi > 0xdbff) return p + 6;
		if (this.bytes[p + 6] !== 0x5c || this.bytes[p + 7] !== 0x75) {
			this.pos = p + 6;
			this.fail("lone high surrogate in a \\u escape");
		}
		const lo = this.hex4(p + 8);
		if (lo < 0xdc00 || lo > 0xdfff) {
			this.pos = p + 6;
			this.fail("high surrogate not followed by a low surrogate");
		}
		return p + 12;
	}

	private hex4(at: number): number {
		let v = 0;
		for (let i = at; i < at + 4; i++) {
			const d = i < this.end ? HEX[this.bytes[i]!]! : -1;
			if (d < 0) {
				this.pos = at;
				this.fail("expected 4 hex digits after \\u");
			}
			v = v * 16 + d;
		}
		return v;
	}

	/**
	 * Scans the string starting at the opening quote at `pos` like scanString, and returns its value. Escapes are
	 * resolved in the same pass, into a scratch buffer decoded once at the end (so a string of millions of escapes
	 * costs one pass and one decode, never a concatenation per escape).
	 */
	readString(): string {
		const b = this.bytes;
		const end = this.end;
		const start = this.pos + 1;
		let p = start;
		while (p < end && PLAIN[b[p]!] === 1) p++;
		this.strStart = start;
		if (p < end && b[p] === 0x22) {
			this.strEnd = p;
			this.strEscaped = false;
			this.pos = p + 1;
			return this.buf.toString("utf8", start, p);
		}
		// Unescaping never makes a string longer (each escape is longer than the bytes it stands for), so a buffer as
		// long as the rest of the header holds any string in it: no bound checks in the loop. Only the bytes written
		// are touched, and the buffer is reused by every later escaped string.
		const out = this.room(end - start);
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
				const next = this.unicodeEscape(p);
				const hi = this.hex4(p + 2);
				o = writeUtf8(out, o, next - p === 12 ? 0x10000 + ((hi - 0xd800) << 10) + (this.hex4(p + 8) - 0xdc00) : hi);
				p = next;
				continue;
			}
			this.pos = p;
			this.fail(c < 0 ? "unterminated string" : c === 0x5c ? "invalid escape sequence" : "control character inside a string");
		}
		this.strEnd = p;
		this.strEscaped = true;
		this.pos = p + 1;
		return out.toString("utf8", 0, o);
	}

	/** The scratch buffer, with room for at least `size` bytes. */
	private room(size: number): Buffer {
		if (this.scratch.length < size) this.scratch = Buffer.allocUnsafeSlow(size);
		return this.scratch;
	}

	/** The value of the last string scanned (by scanString or readString). */
	stringValue(): string {
		if (!this.strEscaped) return this.buf.toString("utf8", this.strStart, this.strEnd);
		const pos = this.pos;
		this.pos = this.strStart - 1;
		const value = this.readString();
		this.pos = pos;
		return value;
	}

	/** Whether the last string scanned equals `ascii` (compared on the bytes unless it holds escapes). */
	stringIs(ascii: Uint8Array): boolean {
		const n = ascii.length;
		if (this.strEscaped) return this.stringValue() === String.fromCharCode(...ascii);
		if (this.strEnd - this.strStart !== n) return false;
		const b = this.bytes;
		const s = this.strStart;
		for (let i = 0; i < n; i++) if (b[s + i] !== ascii[i]) return false;
		return true;
	}

	/**
	 * Scans the number at `pos`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. Returns its value when it is
	 * a plain non-negative integer of at most 2^53 − 1, else NOT_PLAIN or TOO_BIG; its text is bytes [numStart, pos).
	 */
	scanNumber(): number {
		const b = this.bytes;
		const end = this.end;
		let p = this.pos;
		this.numStart = p;
		let plain = true;
		if (p < end && b[p] === 0x2d) {
			p++;
			plain = false;
		}
		let c = p < end ? b[p]! : -1;
		let value = 0;
		if (c === 0x30) {
			p++;
		} else if (c >= 0x31 && c <= 0x39) {
			// Exact while below 2^53; a larger lexeme rounds to at least 2^53, so the comparison below still holds.
			do {
				value = value * 10 + (c - 0x30);
				c = ++p < end ? b[p]! : -1;
			} while (c >= 0x30 && c <= 0x39);
		} else {
			this.pos = p;
			this.fail("expected a JSON value");
		}
		if (p < end && b[p] === 0x2e) {
			plain = false;
			p = this.digits(p + 1, "expected a digit after '.'");
		}
		if (p < end && (b[p] === 0x65 || b[p] === 0x45)) {
			plain = false;
			p++;
			if (p < end && (b[p] === 0x2b || b[p] === 0x2d)) p++;
			p = this.digits(p, "expected a digit in the exponent");
		}
		this.pos = p;
		if (!plain) return NOT_PLAIN;
		return value > Number.MAX_SAFE_INTEGER ? TOO_BIG : value;
	}

	/** Skips one or more digits from `p`; returns the position after them. */
	private digits(p: number, what: string): number {
		const b = this.bytes;
		const start = p;
		while (p < this.end && b[p]! >= 0x30 && b[p]! <= 0x39) p++;
		if (p === start) {
			this.pos = p;
			this.fail(what);
		}
		return p;
	}

	/** The source text of the last number scanned. */
	numberText(): string {
		return this.buf.toString("latin1", this.numStart, this.pos);
	}

	/** Consumes a literal (`true`, `false`, `null`) or fails as a bad value. */
	private literal(word: string): void {
		for (let i = 0; i < word.length; i++) {
			if (this.bytes[this.pos + i] !== word.charCodeAt(i)) this.fail("expected a JSON value");
		}
		this.pos += word.length;
	}

	/** Validates one value at nesting level `depth` without keeping it; returns its type. */
	skipValue(depth: number): JsonType {
		const c = this.peek();
		if (c === 0x7b || c === 0x5b) {
			this.enter(depth);
			const close = c === 0x7b ? 0x7d : 0x5d;
			this.pos++;
			this.skipWhitespace();
			if (this.peek() === close) {
				this.pos++;
			} else {
				for (;;) {
					if (close === 0x7d) {
						if (this.peek() !== 0x22) this.fail("expected a string key");
						this.scanString();
						this.skipWhitespace();
						this.expect(0x3a, "expected ':' after an object key");
						this.skipWhitespace();
					}
					this.skipValue(depth + 1);
					if (this.next(close)) break;
				}
			}
			return close === 0x7d ? "object" : "array";
		}
		if (c === 0x22) {
			this.scanString();
			return "string";
		}
		if (c === 0x74) {
			this.literal("true");
			return "boolean";
		}
		if (c === 0x66) {
			this.literal("false");
			return "boolean";
		}
		if (c === 0x6e) {
			this.literal("null");
			return "null";
		}
		this.scanNumber();
		return "number";
	}

	/**
	 * After a member of an object or array: skips whitespace, then consumes `close` (returns true: the container
	 * ended) or a comma and the whitespace after it (returns false: another member follows).
	 */
	next(close: number): boolean {
		this.skipWhitespace();
		const c = this.peek();
		if (c === close) {
			this.pos++;
			return true;
		}
		if (c !== 0x2c) this.fail(close === 0x7d ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array");
		this.pos++;
		this.skipWhitespace();
		return false;
	}
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

function describeByte(code: number): string {
	return code >= 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}'` : `byte 0x${code.toString(16).toUpperCase().padStart(2, "0")}`;
}
