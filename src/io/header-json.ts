/**
 * A strict JSON parser for safetensors headers. `JSON.parse` cannot be used: it keeps the last of two
 * duplicate keys and turns `2.0` and `2e0` into 2, and both must be rejected. This parser keeps every
 * object entry in document order (so callers see duplicates) and every number as its source lexeme.
 * It accepts exactly RFC 8259 JSON: no comments, no trailing commas, no BOM, no NUL padding.
 */
import { SafetensorsError } from "../errors.js";

import { MAX_JSON_DEPTH } from "./json-scanner.js";

export { MAX_JSON_DEPTH };

/** A parsed JSON value; objects keep duplicate keys and numbers keep their exact text. */
export type JsonValue =
	| { type: "object"; entries: Array<[string, JsonValue]> }
	| { type: "array"; items: JsonValue[] }
	| { type: "string"; value: string }
	| { type: "number"; lexeme: string }
	| { type: "boolean"; value: boolean }
	| { type: "null" };

/**
 * Parses `text` as one JSON value with optional JSON whitespace (space, tab, LF, CR) around it.
 * Throws SafetensorsError kind "InvalidHeaderJson" naming `file` and the character position.
 */
export function parseStrictJson(text: string, file: string): JsonValue {
	const parser = new StrictJsonParser(text, file);
	parser.skipWhitespace();
	const value = parser.parseValue(0);
	parser.skipWhitespace();
	if (parser.pos < text.length) {
		parser.fail("unexpected data after the top-level value");
	}
	return value;
}

/** The longest run of string characters that need no attention: not a quote, backslash or control character. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters; this finds them.
const PLAIN_RUN_RE = /[^"\\\u0000-\u001f]*/y;
/** The characters that may follow a backslash, besides `u`. */
const SIMPLE_ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);

class StrictJsonParser {
	pos = 0;
	constructor(
		private readonly text: string,
		private readonly file: string,
	) {}

	fail(what: string): never {
		const found = this.pos < this.text.length ? describeChar(this.text.charCodeAt(this.pos)) : "end of header";
		throw new SafetensorsError(
			"InvalidHeaderJson",
			this.file,
			`header is not valid JSON at character ${this.pos}: ${what} (found ${found})`,
		);
	}

	skipWhitespace(): void {
		const t = this.text;
		let c = t.charCodeAt(this.pos);
		while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
			c = t.charCodeAt(++this.pos);
		}
	}

	parseValue(depth: number): JsonValue {
		const c = this.text[this.pos];
		if (c === "{" || c === "[") {
			if (depth >= MAX_JSON_DEPTH) {
				this.fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
			}
			return c === "{" ? this.parseObject(depth + 1) : this.parseArray(depth + 1);
		}
		if (c === '"') return { type: "string", value: this.parseString() };
		if (c === "t" && this.text.startsWith("true", this.pos)) return this.literal(4, { type: "boolean", value: true });
		if (c === "f" && this.text.startsWith("false", this.pos)) return this.literal(5, { type: "boolean", value: false });
		if (c === "n" && this.text.startsWith("null", this.pos)) return this.literal(4, { type: "null" });
		return this.parseNumber();
	}

	/** `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as its source text. */
	private parseNumber(): JsonValue {
		const t = this.text;
		const start = this.pos;
		if (t.charCodeAt(this.pos) === 0x2d) this.pos++;
		const first = t.charCodeAt(this.pos);
		if (first === 0x30) {
			this.pos++;
		} else if (isDigit(first)) {
			this.skipDigits();
		} else {
			this.fail("expected a JSON value");
		}
		if (t.charCodeAt(this.pos) === 0x2e) {
			this.pos++;
			if (!isDigit(t.charCodeAt(this.pos))) this.fail("expected a digit after '.'");
			this.skipDigits();
		}
		const e = t.charCodeAt(this.pos);
		if (e === 0x65 || e === 0x45) {
			this.pos++;
			const sign = t.charCodeAt(this.pos);
			if (sign === 0x2b || sign === 0x2d) this.pos++;
			if (!isDigit(t.charCodeAt(this.pos))) this.fail("expected a digit in the exponent");
			this.skipDigits();
		}
		return { type: "number", lexeme: t.slice(start, this.pos) };
	}

	private skipDigits(): void {
		while (isDigit(this.text.charCodeAt(this.pos))) this.pos++;
	}

	private literal(length: number, value: JsonValue): JsonValue {
		this.pos += length;
		return value;
	}

	private expect(ch: string, what: string): void {
		if (this.text[this.pos] !== ch) this.fail(what);
		this.pos++;
	}

	private parseObject(depth: number): JsonValue {
		const entries: Array<[string, JsonValue]> = [];
		this.pos++; // "{"
		this.skipWhitespace();
		if (this.text[this.pos] === "}") {
			this.pos++;
			return { type: "object", entries };
		}
		for (;;) {
			if (this.text[this.pos] !== '"') this.fail("expected a string key");
			const key = this.parseString();
			this.skipWhitespace();
			this.expect(":", "expected ':' after an object key");
			this.skipWhitespace();
			entries.push([key, this.parseValue(depth)]);
			this.skipWhitespace();
			if (this.text[this.pos] === "}") {
				this.pos++;
				return { type: "object", entries };
			}
			this.expect(",", "expected ',' or '}' in an object");
			this.skipWhitespace();
		}
	}

	private parseArray(depth: number): JsonValue {
		const items: JsonValue[] = [];
		this.pos++; // "["
		this.skipWhitespace();
		if (this.text[this.pos] === "]") {
			this.pos++;
			return { type: "array", items };
		}
		for (;;) {
			items.push(this.parseValue(depth));
			this.skipWhitespace();
			if (this.text[this.pos] === "]") {
				this.pos++;
				return { type: "array", items };
			}
			this.expect(",", "expected ',' or ']' in an array");
			this.skipWhitespace();
		}
	}

	/**
	 * Parses a string starting at the opening quote; rejects raw control characters and lone surrogates. A string
	 * with escapes is validated here and unescaped by JSON.parse of its slice (native and linear): appending escapes
	 * one by one made a string of millions of them cost a cons-string each (gigabytes for a 100 MB file).
	 */
	private parseString(): string {
		const t = this.text;
		const start = this.pos;
		let escaped = false;
		this.pos++;
		for (;;) {
			// Skip the run of plain characters in one step, then handle what stopped it.
			PLAIN_RUN_RE.lastIndex = this.pos;
			PLAIN_RUN_RE.test(t);
			this.pos = PLAIN_RUN_RE.lastIndex;
			const c = t.charCodeAt(this.pos);
			if (c === 0x22) {
				this.pos++;
				return escaped ? (JSON.parse(t.slice(start, this.pos)) as string) : t.slice(start + 1, this.pos - 1);
			}
			if (Number.isNaN(c)) this.fail("unterminated string");
			if (c < 0x20) this.fail("control character inside a string");
			escaped = true;
			const e = t[this.pos + 1];
			if (e === "u") {
				this.parseUnicodeEscape();
			} else if (e !== undefined && SIMPLE_ESCAPES.has(e)) {
				this.pos += 2;
			} else {
				this.fail("invalid escape sequence");
			}
		}
	}

	/** Validates `\uXXXX`, or a surrogate pair written as two escapes; a lone surrogate is rejected as serde_json does. */
	private parseUnicodeEscape(): void {
		const hi = this.hex4(this.pos + 2);
		this.pos += 6;
		if (hi >= 0xdc00 && hi <= 0xdfff) this.fail("lone low surrogate in a \\u escape");
		if (hi < 0xd800 || hi > 0xdbff) return;
		if (this.text[this.pos] !== "\\" || this.text[this.pos + 1] !== "u") this.fail("lone high surrogate in a \\u escape");
		const lo = this.hex4(this.pos + 2);
		if (lo < 0xdc00 || lo > 0xdfff) this.fail("high surrogate not followed by a low surrogate");
		this.pos += 6;
	}

	private hex4(at: number): number {
		const digits = this.text.slice(at, at + 4);
		if (!/^[0-9a-fA-F]{4}$/.test(digits)) {
			this.pos = at;
			this.fail("expected 4 hex digits after \\u");
		}
		return parseInt(digits, 16);
	}
}

function isDigit(code: number): boolean {
	return code >= 0x30 && code <= 0x39;
}

function describeChar(code: number): string {
	const hex = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
	return code >= 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}'` : hex;
}
