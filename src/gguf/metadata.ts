/**
 * GGUF metadata values: a tagged union mirroring the format's value types, constructors for the kinds
 * this project writes, and their little-endian encoding (strings are a u64 byte length + UTF-8 bytes).
 */
import { GgufValueType } from "./constants.js";

/** GGUF metadata value types that fit a JavaScript number. */
type GgufNumberKind = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
/** GGUF metadata value types read as bigint (64-bit integers). */
type GgufBigKind = "uint64" | "int64";
type GgufScalarKind = GgufNumberKind | GgufBigKind | "bool" | "string";

/** One metadata value. Arrays hold scalars (nested arrays are legal in GGUF and read, but never written). */
export type GgufValue =
	| { kind: GgufNumberKind; value: number }
	| { kind: GgufBigKind; value: bigint }
	| { kind: "bool"; value: boolean }
	| { kind: "string"; value: string }
	| { kind: "array"; itemKind: GgufNumberKind; value: ArrayLike<number> }
	| { kind: "array"; itemKind: GgufBigKind; value: readonly bigint[] }
	| { kind: "array"; itemKind: "bool"; value: readonly boolean[] }
	| { kind: "array"; itemKind: "string"; value: readonly string[] }
	| { kind: "array"; itemKind: "array"; value: readonly GgufValue[] };

export type GgufKind = GgufValue["kind"] | "array";

/** Ordered key → value pairs, as they appear in the file. */
export type GgufMetadata = Map<string, GgufValue>;

export const gguf = {
	u32: (value: number): GgufValue => ({ kind: "uint32", value }),
	i32: (value: number): GgufValue => ({ kind: "int32", value }),
	f32: (value: number): GgufValue => ({ kind: "float32", value }),
	bool: (value: boolean): GgufValue => ({ kind: "bool", value }),
	str: (value: string): GgufValue => ({ kind: "string", value }),
	strings: (value: readonly string[]): GgufValue => ({ kind: "array", itemKind: "string", value }),
	f32s: (value: ArrayLike<number>): GgufValue => ({ kind: "array", itemKind: "float32", value }),
	i32s: (value: ArrayLike<number>): GgufValue => ({ kind: "array", itemKind: "int32", value }),
};

/** Kind name ↔ on-disk tag. */
export const KIND_TAGS: Record<GgufKind, number> = {
	uint8: GgufValueType.UINT8,
	int8: GgufValueType.INT8,
	uint16: GgufValueType.UINT16,
	int16: GgufValueType.INT16,
	uint32: GgufValueType.UINT32,
	int32: GgufValueType.INT32,
	float32: GgufValueType.FLOAT32,
	bool: GgufValueType.BOOL,
	string: GgufValueType.STRING,
	array: GgufValueType.ARRAY,
	uint64: GgufValueType.UINT64,
	int64: GgufValueType.INT64,
	float64: GgufValueType.FLOAT64,
};

/** Byte width of each fixed-size kind. */
export const KIND_BYTES: Partial<Record<GgufKind, number>> = {
	uint8: 1,
	int8: 1,
	bool: 1,
	uint16: 2,
	int16: 2,
	uint32: 4,
	int32: 4,
	float32: 4,
	uint64: 8,
	int64: 8,
	float64: 8,
};

/** A growable little-endian byte buffer for headers (small next to tensor data: tokens dominate, ~1 MB for 32k). */
export class ByteSink {
	private buf = new Uint8Array(1 << 16);
	private view = new DataView(this.buf.buffer);
	length = 0;

	private reserve(n: number): number {
		if (this.length + n > this.buf.byteLength) {
			let size = this.buf.byteLength * 2;
			while (size < this.length + n) size *= 2;
			const next = new Uint8Array(size);
			next.set(this.buf.subarray(0, this.length));
			this.buf = next;
			this.view = new DataView(next.buffer);
		}
		const at = this.length;
		this.length += n;
		return at;
	}

	// reserve() may replace the buffer and its view: it must run before `this.view` is read.
	u8(v: number): void {
		const at = this.reserve(1);
		this.view.setUint8(at, v);
	}
	u32(v: number): void {
		const at = this.reserve(4);
		this.view.setUint32(at, v, true);
	}
	u64(v: number | bigint): void {
		const at = this.reserve(8);
		this.view.setBigUint64(at, BigInt(v), true);
	}
	bytes(b: Uint8Array): void {
		const at = this.reserve(b.byteLength);
		this.buf.set(b, at);
	}
	string(s: string): void {
		const b = new TextEncoder().encode(s);
		this.u64(b.byteLength);
		this.bytes(b);
	}
	zeros(n: number): void {
		const at = this.reserve(n);
		this.buf.fill(0, at, this.length);
	}
	scalar(kind: GgufScalarKind | GgufKind, v: number | bigint | boolean | string): void {
		switch (kind) {
			case "uint8": {
				const at = this.reserve(1);
				this.view.setUint8(at, v as number);
				return;
			}
			case "int8": {
				const at = this.reserve(1);
				this.view.setInt8(at, v as number);
				return;
			}
			case "bool": {
				const at = this.reserve(1);
				this.view.setUint8(at, v ? 1 : 0);
				return;
			}
			case "uint16": {
				const at = this.reserve(2);
				this.view.setUint16(at, v as number, true);
				return;
			}
			case "int16": {
				const at = this.reserve(2);
				this.view.setInt16(at, v as number, true);
				return;
			}
			case "uint32": {
				const at = this.reserve(4);
				this.view.setUint32(at, v as number, true);
				return;
			}
			case "int32": {
				const at = this.reserve(4);
				this.view.setInt32(at, v as number, true);
				return;
			}
			case "float32": {
				const at = this.reserve(4);
				this.view.setFloat32(at, v as number, true);
				return;
			}
			case "float64": {
				const at = this.reserve(8);
				this.view.setFloat64(at, v as number, true);
				return;
			}
			case "uint64": {
				const at = this.reserve(8);
				this.view.setBigUint64(at, BigInt(v as bigint), true);
				return;
			}
			case "int64": {
				const at = this.reserve(8);
				this.view.setBigInt64(at, BigInt(v as bigint), true);
				return;
			}
			case "string":
				this.string(v as string);
				return;
			case "array":
				throw new Error("scalar() called with an array kind");
		}
	}
	value(v: GgufValue): void {
		if (v.kind !== "array") {
			this.scalar(v.kind, v.value);
			return;
		}
		this.u32(KIND_TAGS[v.itemKind]);
		this.u64(v.value.length);
		if (v.itemKind === "array") {
			// Each element of an array of arrays is itself (item type, count, items), with no tag of its own.
			for (const item of v.value as readonly GgufValue[]) this.value(item);
			return;
		}
		const items = v.value as ArrayLike<number | bigint | boolean | string>;
		for (let i = 0; i < items.length; i++) this.scalar(v.itemKind, items[i]!);
	}
	result(): Uint8Array {
		return this.buf.subarray(0, this.length);
	}
}
