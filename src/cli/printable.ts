import type { Io } from "./output.js";

/**
 * Characters that must never reach a terminal raw: C0 controls (ESC starts colour and cursor sequences, `\r`
 * rewrites the line, BEL, backspace, ...), DEL, the C1 controls (0x9b is a one-byte CSI on some terminals), and
 * Unicode's bidirectional overrides and isolates, which reorder what is displayed. Tab and newline are handled
 * separately: harmless inside lines the CLI builds, escaped inside values.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's job.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's job.
const UNSAFE_IN_VALUE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** The escape JSON would use (`\r`, `\u001b`), so escaped text stays valid inside JSON strings too. */
function escapeChar(c: string): string {
	return NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** Escapes the control characters of text the CLI prints; its own newlines and tabs are kept. */
export function escapeControl(text: string): string {
	return text.replace(UNSAFE, escapeChar);
}

/**
 * A single untrusted value (a tensor name, a metadata string, a file name) made printable on one line: every
 * control character is escaped, newline and tab included, so a name cannot fake or overwrite a line of output.
 */
export function printable(value: string): string {
	return value.replace(UNSAFE_IN_VALUE, escapeChar);
}

/** Wraps an Io so that nothing it prints can carry terminal control sequences. */
export function safeIo(io: Io): Io {
	return {
		out: (line) => io.out(escapeControl(line)),
		err: (line) => io.err(escapeControl(line)),
		get isTty() {
			return io.isTty;
		},
	};
}
