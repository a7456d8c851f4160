/**
 * One tensor entry of a safetensors header, `{"dtype": …, "shape": […], "data_offsets": [begin, end]}`, read with the
 * lexer (json-scanner.ts) straight into a TensorInfo: no JSON tree, dims collected into a reused array, and tensors
 * of a common 1-D or 2-D shape sharing one frozen array. The checks are the reference's serde step for `TensorInfo`
 * plus our stricter number lexemes, in a fixed order once the whole entry is read (header-parser.ts calls it).
 */
import { SafetensorsError } from "../errors.js";
import { DTYPES, type Dtype, isDtype } from "./dtypes.js";
import { type JsonScanner, type JsonType, NOT_PLAIN, TOO_BIG } from "./json-scanner.js";
import type { TensorInfo } from "./types.js";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const DTYPE_KEY = ascii("dtype");
const SHAPE_KEY = ascii("shape");
const OFFSETS_KEY = ascii("data_offsets");

/** The dtype names as bytes, grouped by length, so a dtype is recognised without decoding it. */
const DTYPES_BY_LENGTH: Array<Array<[Uint8Array, Dtype]>> = [];
for (const name of Object.keys(DTYPES) as Dtype[]) {
	DTYPES_BY_LENGTH[name.length] ??= [];
	DTYPES_BY_LENGTH[name.length]!.push([ascii(name), name]);
}

/**
 * Dims below this are packed into one exact number key (rank − 1, then each dim, in base 2^24: below 2^49); larger
 * ones get an array of their own. 2^24 exceeds every dim of real models (the largest vocabularies are ~2^18).
 */
const SHAPE_KEY_RANGE = 2 ** 24;

/** Distinct shapes shared at most: bounds the lookup table whatever the header holds. */
const MAX_SHARED_SHAPES = 4096;

/** What stood where an integer belongs instead of one: a value of another type, or another number. */
type NotInteger = { type: JsonType } | { lexeme: string; tooBig: boolean };
/** A value read where an integer belongs: the integer, or what was there instead. */
type IntegerSlot = number | NotInteger;

/** Reads the tensor entries of one header (its state: the dims scratch and the shared shapes). */
export class EntryReader {
	/** Reused by every shape: dims are collected here and copied into an array of exactly their length. */
	private readonly dims: number[] = [];
	/** Shapes already seen, keyed as in shared(). */
	private readonly shapes = new Map<number, number[]>();

	constructor(
		private readonly s: JsonScanner,
		private readonly file: string,
	) {}

	/**
	 * Reads the entry at the scanner's position (a value of the root object) and returns it as a TensorInfo, whose
	 * `byteOffset` is begin and `byteLength` end − begin as written (header.ts checks the layout), or returns the
	 * entry's first problem as an InvalidHeaderDeserialization error. Syntax errors are thrown.
	 */
	read(name: string): TensorInfo | SafetensorsError {
		const s = this.s;
		if (s.peek() !== 0x7b) {
			const type = s.skipValue(1);
			return this.entryError(name, `entry must be an object with dtype, shape and data_offsets, got ${type}`);
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
		if (problem !== undefined) return this.entryError(name, problem);
		const [begin, end] = offsets as [number, number];
		return { name, dtype: dtype as Dtype, shape: shape as number[], byteOffset: begin, byteLength: end - begin };
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
		const missing = [dtype === undefined && "dtype", shape === undefined && "shape", offsets === undefined && "data_offsets"].filter(
			Boolean,
		);
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
	return slot.tooBig
		? `${field} value ${slot.lexeme} is above 2^53 - 1`
		: `${field} must hold plain non-negative integers, got ${slot.lexeme}`;
}
