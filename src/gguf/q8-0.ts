/**
 * Q8_0: blocks of 32 values, each stored as an f16 scale d followed by 32 signed bytes q, value = d·q.
 * The scale maps the largest magnitude to ±127, and the bytes are rounded against the f16-rounded scale
 * that the reader will use (not the exact one), which removes the scale's own rounding from the error.
 */
import { f16BitsToF32, f32ToF16Bits } from "../io/convert.js";

const Q8_0_BLOCK = 32;
const Q8_0_BYTES = 34;

export function encodeQ8_0(src: Float32Array, out: Uint8Array): void {
	const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
	const q = new Int8Array(out.buffer, out.byteOffset, out.byteLength);
	for (let b = 0, o = 0; b < src.length; b += Q8_0_BLOCK, o += Q8_0_BYTES) {
		let amax = 0;
		for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(src[b + i]!));
		const dBits = f32ToF16Bits(amax / 127);
		const d = f16BitsToF32(dBits);
		view.setUint16(o, dBits, true);
		const id = d > 0 ? 1 / d : 0;
		for (let i = 0; i < Q8_0_BLOCK; i++) {
			const v = Math.round(src[b + i]! * id);
			q[o + 2 + i] = v > 127 ? 127 : v < -127 ? -127 : v;
		}
	}
}

export function decodeQ8_0(bytes: Uint8Array, out: Float32Array): void {
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	for (let o = 0, b = 0; o < bytes.byteLength; o += Q8_0_BYTES, b += Q8_0_BLOCK) {
		const d = f16BitsToF32(view.getUint16(o, true));
		for (let i = 0; i < Q8_0_BLOCK; i++) out[b + i] = d * q[o + 2 + i]!;
	}
}
