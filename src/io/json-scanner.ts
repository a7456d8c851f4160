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
import { type Fail, readString, type StringSpan, scanString } from "./json-strings.js";

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

export class JsonScanner {
	/** Byte position of the next unread byte. */
	pos = 0;
	/** Where the last number scanned starts (its lexeme is bytes [numStart, pos)). */
	numStart = 0;
	private readonly buf: Buffer;
	private readonly end: number;
	private readonly span: StringSpan = { start: 0, end: 0, escaped: false };
	/** The buffer escaped strings are unescaped into, grown as needed and reused. */
	private scratch: Buffer = Buffer.alloc(0);
	private readonly room = (size: number): Buffer => {
		if (this.scratch.length < size) this.scratch = Buffer.allocUnsafeSlow(size);
		return this.scratch;
	};
	private readonly failAt: Fail = (pos, what) => {
		this.pos = pos;
		return this.fail(what);
	};

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
	 * Scans the string starting at the opening quote at `pos`, validating it (json-strings.ts), and leaves `pos` after
	 * the closing quote; strStart, strEnd and strEscaped describe it.
	 */
	scanString(): void {
		this.pos = scanString(this.bytes, this.pos, this.end, this.span, this.failAt);
	}

	/** scanString, returning the string's value (escapes resolved). */
	readString(): string {
		const value = readString(this.bytes, this.buf, this.pos, this.end, this.span, this.room, this.failAt);
		this.pos = this.span.end + 1;
		return value;
	}

	/** Content of the last string scanned: bytes [strStart, strEnd), between its quotes. */
	get strStart(): number {
		return this.span.start;
	}

	get strEnd(): number {
		return this.span.end;
	}

	/** Whether that string holds escapes (then its value is not its bytes as they are). */
	get strEscaped(): boolean {
		return this.span.escaped;
	}

	/** The value of the last string scanned (by scanString or readString). */
	stringValue(): string {
		if (!this.strEscaped) return this.buf.toString("utf8", this.strStart, this.strEnd);
		const pos = this.pos;
		const value = readString(this.bytes, this.buf, this.strStart - 1, this.end, this.span, this.room, this.failAt);
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

function describeByte(code: number): string {
	return code >= 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}'` : `byte 0x${code.toString(16).toUpperCase().padStart(2, "0")}`;
}
