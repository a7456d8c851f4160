/**
 * The 32-value block types with one scale (and for Q5_1 a minimum): Q4_0 and Q5_0 (symmetric, value =
 * d·(q − 8) or d·(q − 16)) and Q5_1 (value = d·q + m). Q4_0 is an export type; Q5_0 and Q5_1 are where
 * llama.cpp's k-quant mixes fall back for rows that are not whole 256-value super-blocks.
 *
 * Layouts (bytes): Q4_0 = d:f16, qs[16] (value j in the low nibble of qs[j], value j+16 in its high
 * nibble); Q5_0 = d:f16, qh:u32, qs[16] (the fifth bit of value j is bit j of qh); Q5_1 = d:f16, m:f16,
 * qh:u32, qs[16].
 *
 * The symmetric scale maps the value of largest magnitude onto the end of the range that has room
 * (−8 or −16), then one least-squares refit of d against the chosen integers is kept when it lowers the
 * block's squared error.
 */
import { f16BitsToF32, f32ToF16Bits } from "../io/convert.js";

const Q_BLOCK = 32;
const Q4_0_BYTES = 18;
const Q5_0_BYTES = 22;
const Q5_1_BYTES = 24;

/** Rounds one block against scale d into `q` (integers in [0, 2·half)); returns the squared error. */
function roundBlock(src: Float32Array, b: number, half: number, d: number, q: Uint8Array): number {
	const id = 1 / d;
	const top = 2 * half - 1;
	let err = 0;
	for (let i = 0; i < Q_BLOCK; i++) {
		const v = src[b + i]!;
		let l = Math.floor(v * id + 0.5) + half;
		l = l < 0 ? 0 : l > top ? top : l;
		q[i] = l;
		const e = v - d * (l - half);
		err += e * e;
	}
	return err;
}

/** Integers in [0, 2·half) for one symmetric block into `q`, and its f16 scale bits; `spare` is scratch. */
function symmetricBlock(src: Float32Array, b: number, half: number, q: Uint8Array, spare: Uint8Array): number {
	let max = 0;
	let amax = 0;
	for (let i = 0; i < Q_BLOCK; i++) {
		const a = Math.abs(src[b + i]!);
		if (a > amax) {
			amax = a;
			max = src[b + i]!;
		}
	}
	if (max === 0) {
		q.fill(half);
		return 0;
	}
	const bits = f32ToF16Bits(max / -half);
	const err = roundBlock(src, b, half, f16BitsToF32(bits), q);
	let sxl = 0;
	let sll = 0;
	for (let i = 0; i < Q_BLOCK; i++) {
		const l = q[i]! - half;
		sxl += src[b + i]! * l;
		sll += l * l;
	}
	if (sll === 0) return bits;
	const refit = f32ToF16Bits(sxl / sll);
	const d = f16BitsToF32(refit);
	if (d === 0 || roundBlock(src, b, half, d, spare) >= err) return bits;
	q.set(spare);
	return refit;
}

export function encodeQ4_0(src: Float32Array, out: Uint8Array): void {
	const q = new Uint8Array(Q_BLOCK);
	const spare = new Uint8Array(Q_BLOCK);
	for (let b = 0, o = 0; b < src.length; b += Q_BLOCK, o += Q4_0_BYTES) {
		const bits = symmetricBlock(src, b, 8, q, spare);
		out[o] = bits & 0xff;
		out[o + 1] = bits >>> 8;
		for (let j = 0; j < 16; j++) out[o + 2 + j] = q[j]! | (q[j + 16]! << 4);
	}
}

export function decodeQ4_0(bytes: Uint8Array, out: Float32Array): void {
	for (let o = 0, b = 0; o < bytes.byteLength; o += Q4_0_BYTES, b += Q_BLOCK) {
		const d = f16BitsToF32(bytes[o]! | (bytes[o + 1]! << 8));
		for (let j = 0; j < 16; j++) {
			const byte = bytes[o + 2 + j]!;
			out[b + j] = d * ((byte & 0xf) - 8);
			out[b + j + 16] = d * ((byte >> 4) - 8);
		}
	}
}

/** Writes 32 five-bit integers as qh (u32 at `at`) + 16 nibble bytes after it. */
function packFive(q: Uint8Array, out: Uint8Array, at: number): void {
	let qh = 0;
	for (let j = 0; j < Q_BLOCK; j++) qh |= ((q[j]! >> 4) & 1) << j;
	new DataView(out.buffer, out.byteOffset).setUint32(at, qh >>> 0, true);
	for (let j = 0; j < 16; j++) out[at + 4 + j] = (q[j]! & 0xf) | ((q[j + 16]! & 0xf) << 4);
}

function unpackFive(bytes: Uint8Array, at: number, q: Uint8Array): void {
	const qh = new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
	for (let j = 0; j < 16; j++) {
		const byte = bytes[at + 4 + j]!;
		q[j] = (byte & 0xf) | (((qh >>> j) & 1) << 4);
		q[j + 16] = (byte >> 4) | (((qh >>> (j + 16)) & 1) << 4);
	}
}

export function encodeQ5_0(src: Float32Array, out: Uint8Array): void {
	const q = new Uint8Array(Q_BLOCK);
	const spare = new Uint8Array(Q_BLOCK);
	for (let b = 0, o = 0; b < src.length; b += Q_BLOCK, o += Q5_0_BYTES) {
		const bits = symmetricBlock(src, b, 16, q, spare);
		out[o] = bits & 0xff;
		out[o + 1] = bits >>> 8;
		packFive(q, out, o + 2);
	}
}

export function decodeQ5_0(bytes: Uint8Array, out: Float32Array): void {
	const q = new Uint8Array(Q_BLOCK);
	for (let o = 0, b = 0; o < bytes.byteLength; o += Q5_0_BYTES, b += Q_BLOCK) {
		const d = f16BitsToF32(bytes[o]! | (bytes[o + 1]! << 8));
		unpackFive(bytes, o + 2, q);
		for (let j = 0; j < Q_BLOCK; j++) out[b + j] = d * (q[j]! - 16);
	}
}

/** Q5_1: d = (max − min)/31 and m = min (both f16), integers rounded against the stored values. */
export function encodeQ5_1(src: Float32Array, out: Uint8Array): void {
	const q = new Uint8Array(Q_BLOCK);
	for (let b = 0, o = 0; b < src.length; b += Q_BLOCK, o += Q5_1_BYTES) {
		let min = Infinity;
		let max = -Infinity;
		for (let i = 0; i < Q_BLOCK; i++) {
			min = Math.min(min, src[b + i]!);
			max = Math.max(max, src[b + i]!);
		}
		const dBits = f32ToF16Bits((max - min) / 31);
		const mBits = f32ToF16Bits(min);
		const d = f16BitsToF32(dBits);
		const m = f16BitsToF32(mBits);
		const id = d > 0 ? 1 / d : 0;
		for (let i = 0; i < Q_BLOCK; i++) q[i] = Math.min(31, Math.max(0, Math.round((src[b + i]! - m) * id)));
		out[o] = dBits & 0xff;
		out[o + 1] = dBits >>> 8;
		out[o + 2] = mBits & 0xff;
		out[o + 3] = mBits >>> 8;
		packFive(q, out, o + 4);
	}
}

export function decodeQ5_1(bytes: Uint8Array, out: Float32Array): void {
	const q = new Uint8Array(Q_BLOCK);
	for (let o = 0, b = 0; o < bytes.byteLength; o += Q5_1_BYTES, b += Q_BLOCK) {
		const d = f16BitsToF32(bytes[o]! | (bytes[o + 1]! << 8));
		const m = f16BitsToF32(bytes[o + 2]! | (bytes[o + 3]! << 8));
		unpackFive(bytes, o + 4, q);
		for (let j = 0; j < Q_BLOCK; j++) out[b + j] = d * q[j]! + m;
	}
}
