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
import { DTYPES, isDtype, type Dtype } from "./dtypes.js";
import { JsonScanner, NOT_PLAIN, TOO_BIG, type JsonType } from "./json-scanner.js";
import type { TensorInfo } from "./types.js";

/** The key that holds the free-form string map instead of a tensor. */
export const METADATA_KEY = "__metadata__";

/** The tensors (document order, keyed by name) and the metadata ({} when absent) of a header. */
export interface HeaderJson {
	/**
	 * In document order. Until header.ts has checked the layout, `byteOffset` is the entry's begin and
	 * `byteLength` its end − begin as written (possibly negative).
	 */
	tensors: Map<string, TensorInfo>;
	metadata: Record<string, string>;
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const DTYPE_KEY = ascii("dtype");
const SHAPE_KEY = ascii("shape");
const OFFSETS_KEY = ascii("data_offsets");

/** The dtype names as bytes, grouped by length, so a dtype is recognised without decoding it. */
const DTYPES_BY_LENGTH: Array<Array<[Uint8Array, Dtype]>> = [];
for (const name of Object.keys(DTYPES) as Dtype[]) (DTYPES_BY_LENGTH[name.length] ??= []).push([ascii(name), name]);

/** What stood where an integer belongs instead of one: a value of another type, or another number. */
type NotInteger = { type: JsonType } | { lexeme: string; tooBig: boolean };
/**
 * Dims below this are packed into one exact number key (rank − 1, then each dim, in base 2^24: below 2^49); larger
 * ones get an array of their own. 2^24 exceeds every dim of real models (the largest vocabularies are ~2^18).
 */
const SHAPE_KEY_RANGE = 2 ** 24;

/** Distinct shapes shared at most: bounds the lookup table whatever the header holds. */
const MAX_SHARED_SHAPES = 4096;

/** A value read where an integer belongs: the integer, or what was there instead. */
type IntegerSlot = number | NotInteger;

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
	/** Reused by every shape: dims are collected here and copied into an array of exactly their length. */
	private readonly dims: number[] = [];
	/** Shapes already seen, keyed as in shared(). */
	private readonly shapes = new Map<number, number[]>();

	constructor(
		private readonly s: JsonScanner,
		private readonly file: string,
	) {}

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
				if (this.deferred !== undefined) s.scanString();
				const key = this.deferred !== undefined ? "" : s.readString();
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
					if (Object.prototype.hasOwnProperty.call(metadata, key)) bad = { repeated: key };
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
			this.defer(new SafetensorsError("InvalidMetadata", file, `"${METADATA_KEY}" value for key "${bad.key}" must be a string, got ${bad.type}${why}`));
		}
	}

	/** One tensor entry; its checks run in a fixed order once the whole entry is read. */
	private readEntry(name: string): void {
		const s = this.s;
		if (this.tensors.has(name)) {
			s.skipValue(1);
			this.defer(new SafetensorsError("DuplicateTensor", this.file, "tensor name appears twice in the header", name));
			return;
		}
		if (s.peek() !== 0x7b) {
			const type = s.skipValue(1);
			this.defer(this.entryError(name, `entry must be an object with dtype, shape and data_offsets, got ${type}`));
			return;
		}
		s.enter(1);
		s.pos++;
		s.skipWhitespace();
		let dtype: Dtype | { type: JsonType } | { unknown: string } | undefined;
		let shape: number[] | { type: JsonType } | { bad: NotInteger } | undefined;
		let offsets: IntegerSlot[] | { type: JsonType } | undefined;
		let duplicate: string | undefined;
		if (s.peek() === 0x7d) s.pos++;
		else {
			do {
				if (s.peek() !== 0x22) s.fail("expected a string key");
				s.scanString();
				const field = s.stringIs(DTYPE_KEY) ? 1 : s.stringIs(SHAPE_KEY) ? 2 : s.stringIs(OFFSETS_KEY) ? 3 : 0;
				s.skipWhitespace();
				s.expect(0x3a, "expected ':' after an object key");
				s.skipWhitespace();
				if (duplicate !== undefined || field === 0) {
					// Any other field is ignored, as the reference does (forward compatibility).
					s.skipValue(2);
				} else if ((field === 1 && dtype) || (field === 2 && shape) || (field === 3 && offsets)) {
					duplicate = ["dtype", "shape", "data_offsets"][field - 1];
					s.skipValue(2);
				} else if (field === 1) {
					dtype = this.readDtype();
				} else if (field === 2) {
					shape = this.readShape();
				} else {
					offsets = this.readOffsets();
				}
			} while (!s.next(0x7d));
		}
		const problem = entryProblem(dtype, shape, offsets, duplicate);
		if (problem !== undefined) {
			this.defer(this.entryError(name, problem));
			return;
		}
		const [begin, end] = offsets as [number, number];
		this.tensors.set(name, { name, dtype: dtype as Dtype, shape: shape as number[], byteOffset: begin, byteLength: end - begin });
	}

	private readDtype(): Dtype | { type: JsonType } | { unknown: string } {
		const s = this.s;
		if (s.peek() !== 0x22) return { type: s.skipValue(2) };
		s.scanString();
		if (!s.strEscaped) {
			for (const [bytes, name] of DTYPES_BY_LENGTH[s.strEnd - s.strStart] ?? []) if (s.stringIs(bytes)) return name;
		}
		const value = s.stringValue();
		return isDtype(value) ? value : { unknown: value };
	}

	/** A shape array: its dims, or the first item that is not a valid dim. */
	private readShape(): number[] | { type: JsonType } | { bad: NotInteger } {
		const s = this.s;
		if (s.peek() !== 0x5b) return { type: s.skipValue(2) };
		s.enter(2);
		s.pos++;
		s.skipWhitespace();
		const dims = this.dims;
		dims.length = 0;
		let bad: NotInteger | undefined;
		if (s.peek() === 0x5d) s.pos++;
		else {
			do {
				const v = this.readInteger();
				if (typeof v === "number") dims.push(v);
				else bad ??= v;
			} while (!s.next(0x5d));
		}
		return bad !== undefined ? { bad } : this.shared(dims);
	}

	/**
	 * An array holding `dims`: the same frozen array for every tensor of a 1-D or 2-D shape seen before (big headers
	 * list thousands of tensors of a few shapes, and an array per tensor would be a third of the parsed header's
	 * memory), else a copy of exactly their length.
	 */
	private shared(dims: number[]): number[] {
		const n = dims.length;
		const a = dims[0]!;
		const b = n === 2 ? dims[1]! : 0;
		if ((n !== 1 && n !== 2) || a >= SHAPE_KEY_RANGE || b >= SHAPE_KEY_RANGE) return dims.slice();
		const key = (n - 1) * SHAPE_KEY_RANGE * SHAPE_KEY_RANGE + a * SHAPE_KEY_RANGE + b;
		let shape = this.shapes.get(key);
		if (shape === undefined) {
			shape = Object.freeze(dims.slice()) as number[];
			if (this.shapes.size < MAX_SHARED_SHAPES) this.shapes.set(key, shape);
		}
		return shape;
	}

	/** data_offsets: every item, as integers or what stood there instead. */
	private readOffsets(): IntegerSlot[] | { type: JsonType } {
		const s = this.s;
		if (s.peek() !== 0x5b) return { type: s.skipValue(2) };
		s.enter(2);
		s.pos++;
		s.skipWhitespace();
		const items: IntegerSlot[] = [];
		if (s.peek() === 0x5d) s.pos++;
		else {
			do {
				// Only two items are ever used; the rest are only counted (and checked for syntax).
				if (items.length < 2) items.push(this.readInteger());
				else {
					s.skipValue(3);
					items.push(0);
				}
			} while (!s.next(0x5d));
		}
		return items;
	}

	/** An array item where an integer belongs. */
	private readInteger(): IntegerSlot {
		const s = this.s;
		const c = s.peek();
		if (c !== 0x2d && (c < 0x30 || c > 0x39)) return { type: s.skipValue(3) };
		const v = s.scanNumber();
		if (v === NOT_PLAIN || v === TOO_BIG) return { lexeme: s.numberText(), tooBig: v === TOO_BIG };
		return v;
	}

	private entryError(tensor: string, message: string): SafetensorsError {
		return new SafetensorsError("InvalidHeaderDeserialization", this.file, message, tensor);
	}
}

/** The first problem of an entry, checked in a fixed order (fields present, then their types, then the numbers). */
function entryProblem(
	dtype: Dtype | { type: JsonType } | { unknown: string } | undefined,
	shape: number[] | { type: JsonType } | { bad: NotInteger } | undefined,
	offsets: IntegerSlot[] | { type: JsonType } | undefined,
	duplicate: string | undefined,
): string | undefined {
	if (duplicate !== undefined) return `duplicate field "${duplicate}"`;
	if (dtype === undefined || shape === undefined || offsets === undefined) {
		const missing = [dtype === undefined && "dtype", shape === undefined && "shape", offsets === undefined && "data_offsets"].filter(Boolean);
		return `missing field ${missing.map((f) => `"${f}"`).join(", ")}`;
	}
	if (typeof dtype !== "string") {
		return "type" in dtype ? `dtype must be a string, got ${dtype.type}` : `unknown dtype ${JSON.stringify(dtype.unknown)}`;
	}
	if (!Array.isArray(shape) && "type" in shape) return `shape must be an array, got ${shape.type}`;
	if (!Array.isArray(offsets) || offsets.length !== 2) {
		const got = Array.isArray(offsets) ? `${offsets.length} items` : offsets.type;
		return `data_offsets must be an array of exactly 2 integers, got ${got}`;
	}
	if (!Array.isArray(shape)) return integerProblem(shape.bad, "shape");
	for (const item of offsets) if (typeof item !== "number") return integerProblem(item, "data_offsets");
	return undefined;
}

function integerProblem(slot: NotInteger, field: string): string {
	if ("type" in slot) return `${field} must hold integers, got ${slot.type}`;
	return slot.tooBig ? `${field} value ${slot.lexeme} is above 2^53 - 1` : `${field} must hold plain non-negative integers, got ${slot.lexeme}`;
}
