/**
 * Reads a safetensors header's JSON in one pass, straight into TensorInfo entries and the metadata map: the
 * TypeScript side of the reference's serde step (`HashMetadata` / `TensorInfo`), plus our stricter rules on
 * duplicates, `__metadata__` and number lexemes. No JSON tree is built, so time and memory are linear in the
 * header with small constants (a header of 800k tensors or of one 90 MB escaped string opens in about the time
 * `JSON.parse` takes). Offsets and sizes are checked afterwards, in header.ts.
 *
 * Error precedence is that of a parse-then-check reader: a JSON syntax error anywhere wins over a structure error,
 * and of the structure errors the first in document order wins. So the first structure error is remembered, and
 * the scan goes on checking syntax only; it is thrown when the whole header has proved to be valid JSON.
 */
import { SafetensorsError } from "../errors.js";
import { EntryReader } from "./header-entry.js";
import { JsonScanner, type JsonType } from "./json-scanner.js";
import type { TensorInfo } from "./types.js";

/** The key that holds the free-form string map instead of a tensor. */
export const METADATA_KEY = "__metadata__";

/** The tensors (document order, keyed by name) and the metadata ({} when absent) of a header. */
interface HeaderJson {
	/**
	 * In document order. Until header.ts has checked the layout, `byteOffset` is the entry's begin and
	 * `byteLength` its end − begin as written (possibly negative).
	 */
	tensors: Map<string, TensorInfo>;
	metadata: Record<string, string>;
}

/**
 * Parses the header JSON `bytes` (valid UTF-8, no BOM). Throws SafetensorsError kinds "InvalidHeaderJson",
 * "InvalidHeaderDeserialization", "DuplicateTensor", "InvalidMetadata".
 */
export function parseHeaderJson(bytes: Uint8Array, file: string): HeaderJson {
	return new HeaderJsonParser(new JsonScanner(bytes, file), file).parse();
}

class HeaderJsonParser {
	private readonly tensors = new Map<string, TensorInfo>();
	private metadata: Record<string, string> | undefined;
	/** The first structure error, in document order; once set, the rest is only checked for syntax. */
	private deferred: SafetensorsError | undefined;
	private readonly entries: EntryReader;

	constructor(
		private readonly s: JsonScanner,
		private readonly file: string,
	) {
		this.entries = new EntryReader(s, file);
	}

	parse(): HeaderJson {
		const s = this.s;
		s.skipWhitespace();
		if (s.peek() !== 0x7b) {
			const type = s.skipValue(0);
			this.finish();
			throw new SafetensorsError("InvalidHeaderDeserialization", this.file, `header must be a JSON object, got ${type}`);
		}
		s.pos++;
		s.skipWhitespace();
		if (s.peek() === 0x7d) s.pos++;
		else {
			do {
				if (s.peek() !== 0x22) s.fail("expected a string key");
				// Once a structure error is known, keys are only checked, not decoded.
				let key = "";
				if (this.deferred === undefined) key = s.readString();
				else s.scanString();
				s.skipWhitespace();
				s.expect(0x3a, "expected ':' after an object key");
				s.skipWhitespace();
				if (this.deferred !== undefined) s.skipValue(1);
				else if (key === METADATA_KEY) this.readMetadata();
				else this.readEntry(key);
			} while (!s.next(0x7d));
		}
		this.finish();
		if (this.deferred !== undefined) throw this.deferred;
		return { tensors: this.tensors, metadata: this.metadata ?? {} };
	}

	/** After the root value: only whitespace may follow. */
	private finish(): void {
		this.s.skipWhitespace();
		if (!this.s.atEnd) this.s.fail("unexpected data after the top-level value");
	}

	private defer(err: SafetensorsError): void {
		this.deferred ??= err;
	}

	private readMetadata(): void {
		const s = this.s;
		const file = this.file;
		if (this.metadata !== undefined) {
			s.skipValue(1);
			this.defer(new SafetensorsError("InvalidHeaderDeserialization", file, `duplicate field "${METADATA_KEY}"`));
			return;
		}
		if (s.peek() !== 0x7b) {
			const type = s.skipValue(1);
			this.defer(new SafetensorsError("InvalidMetadata", file, `"${METADATA_KEY}" must be an object of strings, got ${type}`));
			return;
		}
		s.enter(1);
		s.pos++;
		s.skipWhitespace();
		const metadata: Record<string, string> = {};
		// The first bad value ("key", type) or repeated key; the hint needs every key of the object.
		let bad: { key: string; type: JsonType } | { repeated: string } | undefined;
		let tensorLike = false;
		if (s.peek() === 0x7d) s.pos++;
		else {
			do {
				if (s.peek() !== 0x22) s.fail("expected a string key");
				const key = s.readString();
				tensorLike ||= key === "dtype" || key === "shape" || key === "data_offsets";
				s.skipWhitespace();
				s.expect(0x3a, "expected ':' after an object key");
				s.skipWhitespace();
				if (s.peek() !== 0x22 || bad !== undefined) {
					const type = s.skipValue(2);
					if (type !== "string") bad ??= { key, type };
				} else {
					const value = s.readString();
					if (Object.hasOwn(metadata, key)) bad = { repeated: key };
					// defineProperty, so that a key such as "__proto__" is stored as data rather than calling a setter.
					else Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true });
				}
			} while (!s.next(0x7d));
		}
		if (bad === undefined) {
			this.metadata = metadata;
		} else if ("repeated" in bad) {
			this.defer(new SafetensorsError("InvalidMetadata", file, `"${METADATA_KEY}" has the key "${bad.repeated}" twice`));
		} else {
			const why = tensorLike ? " (a tensor cannot be named __metadata__)" : "";
			this.defer(
				new SafetensorsError(
					"InvalidMetadata",
					file,
					`"${METADATA_KEY}" value for key "${bad.key}" must be a string, got ${bad.type}${why}`,
				),
			);
		}
	}

	/** One tensor entry (EntryReader), after the duplicate check of its name. */
	private readEntry(name: string): void {
		if (this.tensors.has(name)) {
			this.s.skipValue(1);
			this.defer(new SafetensorsError("DuplicateTensor", this.file, "tensor name appears twice in the header", name));
			return;
		}
		const entry = this.entries.read(name);
		if (entry instanceof SafetensorsError) this.defer(entry);
		else this.tensors.set(name, entry);
	}
}
