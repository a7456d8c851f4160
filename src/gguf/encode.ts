/**
 * Float32 rows → the bytes of one ggml type, and back: one table of encoders and decoders, so the export,
 * the reader and the tests share a single dispatch. Quantized types encode whole blocks along each row.
 */
import { decodeToF32, encodeFromF32 } from "../io/convert.js";
import { GGML_TYPES, type GgmlType } from "./constants.js";
import { decodeQ4_K, decodeQ5_K, decodeQ6_K, encodeQ4_K, encodeQ5_K, encodeQ6_K } from "./k-quants.js";
import { decodeQ4_0, decodeQ5_0, decodeQ5_1, encodeQ4_0, encodeQ5_0, encodeQ5_1 } from "./q4-0.js";
import { decodeQ8_0, encodeQ8_0 } from "./q8-0.js";

/** Encodes `src` (whole blocks) into `out` (exactly the type's bytes for src.length values). */
type Encoder = (src: Float32Array, out: Uint8Array) => void;
/** Decodes `bytes` (whole blocks) into `out`. */
export type Decoder = (bytes: Uint8Array, out: Float32Array) => void;

interface Codec {
	encode: Encoder;
	decode: Decoder;
}

const CODECS: Partial<Record<GgmlType, Codec>> = {
	F32: { encode: (s, o) => void encodeFromF32(s, "F32", o), decode: (b, o) => void decodeToF32(b, "F32", o) },
	F16: { encode: (s, o) => void encodeFromF32(s, "F16", o), decode: (b, o) => void decodeToF32(b, "F16", o) },
	BF16: { encode: (s, o) => void encodeFromF32(s, "BF16", o), decode: (b, o) => void decodeToF32(b, "BF16", o) },
	Q8_0: { encode: encodeQ8_0, decode: decodeQ8_0 },
	Q4_0: { encode: encodeQ4_0, decode: decodeQ4_0 },
	Q5_0: { encode: encodeQ5_0, decode: decodeQ5_0 },
	Q5_1: { encode: encodeQ5_1, decode: decodeQ5_1 },
	Q4_K: { encode: encodeQ4_K, decode: decodeQ4_K },
	Q5_K: { encode: encodeQ5_K, decode: decodeQ5_K },
	Q6_K: { encode: encodeQ6_K, decode: decodeQ6_K },
};

/** Whether this build can write and read `type`. */
export function hasCodec(type: GgmlType): boolean {
	return CODECS[type] !== undefined;
}

function codecOf(type: GgmlType): Codec {
	const c = CODECS[type];
	if (c === undefined) throw new RangeError(`no ${type} codec`);
	return c;
}

/** Bytes of `n` values of `type` (n a multiple of the block size). */
function encodedBytes(type: GgmlType, n: number): number {
	const t = GGML_TYPES[type];
	return (n / t.block) * t.bytes;
}

/** Encodes `src` as `type`; writes into `out` when given (exactly encodedBytes long). */
export function encodeRows(type: GgmlType, src: Float32Array, out?: Uint8Array): Uint8Array {
	const block = GGML_TYPES[type].block;
	if (src.length % block !== 0) throw new RangeError(`encodeRows: ${src.length} values are not whole ${type} blocks of ${block}`);
	const dst = out ?? new Uint8Array(encodedBytes(type, src.length));
	codecOf(type).encode(src, dst);
	return dst;
}

/** Decodes `bytes` of `type` into float32. */
export function decodeRows(type: GgmlType, bytes: Uint8Array, out?: Float32Array): Float32Array {
	const t = GGML_TYPES[type];
	const n = (bytes.byteLength / t.bytes) * t.block;
	const dst = out ?? new Float32Array(n);
	codecOf(type).decode(bytes, dst);
	return dst;
}
