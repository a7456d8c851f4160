/**
 * The k-quants: super-blocks of 256 values split into sub-blocks, each sub-block with its own scale
 * (and for Q4_K / Q5_K its own minimum), those scales themselves quantized against one f16 super-scale.
 *
 * Layouts (bytes, ggml's block_q4_K / block_q5_K / block_q6_K):
 * - Q4_K (144): d f16, dmin f16, scales[12], qs[128]. 8 sub-blocks of 32; value = d·sc·q − dmin·m with
 *   6-bit sc, m and 4-bit q. scales[0..3] hold sc0..3 (low 6 bits), scales[4..7] m0..3, and the top two
 *   bits of those 8 bytes hold the high bits of sc4..7 / m4..7, whose low 4 bits sit in scales[8..11]
 *   (sc in the low nibble, m in the high one). qs: each 64-value group g takes 32 bytes, value 64g+l in the
 *   low nibble of byte 32g+l and value 64g+32+l in its high nibble.
 * - Q5_K (176): d, dmin, scales[12] as Q4_K, qh[32], qs[128]; the fifth bit of value 64g+l is bit 2g of
 *   qh[l], of value 64g+32+l bit 2g+1.
 * - Q6_K (210): ql[128], qh[64], scales: int8[16], d f16. 16 sub-blocks of 16; value = d·sc·(q − 32) with
 *   6-bit q. Each half h of 128 values uses ql[64h..], qh[32h..]: for l < 32, values 128h + l, +32, +64,
 *   +96 take the low nibble of ql[l], the low nibble of ql[l+32], the high nibble of ql[l], the high
 *   nibble of ql[l+32], and bits 0–1, 2–3, 4–5, 6–7 of qh[l] as their two high bits.
 *
 * Scale search: for every sub-block a range of candidate scales around the one that maps the sub-block's
 * span onto the integer range is tried; each candidate's integers get a weighted least-squares fit of
 * scale (and minimum), and the fit with the smallest weighted squared error wins. Weights x² + σ² (σ² the
 * super-block's mean square) favour the large values that dominate a matrix product's error.
 */
import { f16BitsToF32, f32ToF16Bits } from "../io/convert.js";
import { type Fit, searchAffine, searchSymmetric } from "./k-scale.js";

const QK_K = 256;
const Q4_K_BYTES = 144;
const Q5_K_BYTES = 176;
const Q6_K_BYTES = 210;

function setF16(out: Uint8Array, at: number, bits: number): void {
	out[at] = bits & 0xff;
	out[at + 1] = bits >>> 8;
}

function getF16(bytes: Uint8Array, at: number): number {
	return f16BitsToF32(bytes[at]! | (bytes[at + 1]! << 8));
}

/** Packs 8 six-bit scales and 8 six-bit mins into the 12 bytes at `at`. */
function packScaleMins(sc: ArrayLike<number>, m: ArrayLike<number>, out: Uint8Array, at: number): void {
	for (let j = 0; j < 4; j++) {
		out[at + j] = (sc[j]! & 63) | ((sc[j + 4]! >> 4) << 6);
		out[at + 4 + j] = (m[j]! & 63) | ((m[j + 4]! >> 4) << 6);
		out[at + 8 + j] = (sc[j + 4]! & 0xf) | ((m[j + 4]! & 0xf) << 4);
	}
}

/** Unpacks the 12 bytes at `at` into 8 scales and 8 mins. */
function unpackScaleMins(bytes: Uint8Array, at: number, sc: Uint8Array, m: Uint8Array): void {
	for (let j = 0; j < 4; j++) {
		sc[j] = bytes[at + j]! & 63;
		m[j] = bytes[at + 4 + j]! & 63;
		sc[j + 4] = (bytes[at + 8 + j]! & 0xf) | ((bytes[at + j]! >> 6) << 4);
		m[j + 4] = (bytes[at + 8 + j]! >> 4) | ((bytes[at + 4 + j]! >> 6) << 4);
	}
}

/** Mean square of a super-block: the σ² of the weights. */
function meanSquare(src: Float32Array, b: number): number {
	let s = 0;
	for (let i = 0; i < QK_K; i++) s += src[b + i]! * src[b + i]!;
	return s / QK_K;
}

/**
 * One Q4_K / Q5_K super-block: sub-block fits, 6-bit quantized scales and mins against f16 super-scales,
 * then the integers re-rounded against the scales as the reader will see them. Writes d, dmin, scales;
 * returns the integers (0..nmax) in `q`.
 */
function affineSuperBlock(
	src: Float32Array,
	b: number,
	nmax: number,
	out: Uint8Array,
	o: number,
	q: Uint8Array,
	fit: Fit,
	w: Float32Array,
): void {
	const sigma2 = meanSquare(src, b);
	const scales = new Float32Array(8);
	const mins = new Float32Array(8);
	for (let s = 0; s < 8; s++) {
		const at = b + 32 * s;
		for (let i = 0; i < 32; i++) w[i] = src[at + i]! * src[at + i]! + sigma2;
		searchAffine(src, at, 32, nmax, w, fit);
		scales[s] = fit.scale;
		mins[s] = fit.min;
	}
	let maxScale = 0;
	let maxMin = 0;
	for (let s = 0; s < 8; s++) {
		maxScale = Math.max(maxScale, scales[s]!);
		maxMin = Math.max(maxMin, mins[s]!);
	}
	const dBits = f32ToF16Bits(maxScale / 63);
	const mBits = f32ToF16Bits(maxMin / 63);
	const d = f16BitsToF32(dBits);
	const dmin = f16BitsToF32(mBits);
	const ls = new Uint8Array(8);
	const lm = new Uint8Array(8);
	for (let s = 0; s < 8; s++) {
		ls[s] = d > 0 ? Math.min(63, Math.round(scales[s]! / d)) : 0;
		lm[s] = dmin > 0 ? Math.min(63, Math.round(mins[s]! / dmin)) : 0;
	}
	setF16(out, o, dBits);
	setF16(out, o + 2, mBits);
	packScaleMins(ls, lm, out, o + 4);
	for (let s = 0; s < 8; s++) {
		const step = d * ls[s]!;
		const min = dmin * lm[s]!;
		const inv = step > 0 ? 1 / step : 0;
		for (let i = 0; i < 32; i++) {
			const l = Math.round((src[b + 32 * s + i]! + min) * inv);
			q[32 * s + i] = l < 0 ? 0 : l > nmax ? nmax : l;
		}
	}
}

export function encodeQ4_K(src: Float32Array, out: Uint8Array): void {
	const q = new Uint8Array(QK_K);
	const fit: Fit = { scale: 0, min: 0 };
	const w = new Float32Array(32);
	for (let b = 0, o = 0; b < src.length; b += QK_K, o += Q4_K_BYTES) {
		affineSuperBlock(src, b, 15, out, o, q, fit, w);
		for (let g = 0; g < 4; g++) {
			for (let l = 0; l < 32; l++) out[o + 16 + 32 * g + l] = q[64 * g + l]! | (q[64 * g + 32 + l]! << 4);
		}
	}
}

export function decodeQ4_K(bytes: Uint8Array, out: Float32Array): void {
	const sc = new Uint8Array(8);
	const m = new Uint8Array(8);
	for (let o = 0, b = 0; o < bytes.byteLength; o += Q4_K_BYTES, b += QK_K) {
		const d = getF16(bytes, o);
		const dmin = getF16(bytes, o + 2);
		unpackScaleMins(bytes, o + 4, sc, m);
		for (let g = 0; g < 4; g++) {
			const d1 = d * sc[2 * g]!,
				m1 = dmin * m[2 * g]!;
			const d2 = d * sc[2 * g + 1]!,
				m2 = dmin * m[2 * g + 1]!;
			for (let l = 0; l < 32; l++) {
				const byte = bytes[o + 16 + 32 * g + l]!;
				out[b + 64 * g + l] = d1 * (byte & 0xf) - m1;
				out[b + 64 * g + 32 + l] = d2 * (byte >> 4) - m2;
			}
		}
	}
}

export function encodeQ5_K(src: Float32Array, out: Uint8Array): void {
	const q = new Uint8Array(QK_K);
	const fit: Fit = { scale: 0, min: 0 };
	const w = new Float32Array(32);
	for (let b = 0, o = 0; b < src.length; b += QK_K, o += Q5_K_BYTES) {
		affineSuperBlock(src, b, 31, out, o, q, fit, w);
		out.fill(0, o + 16, o + 48);
		for (let g = 0; g < 4; g++) {
			for (let l = 0; l < 32; l++) {
				const lo = q[64 * g + l]!;
				const hi = q[64 * g + 32 + l]!;
				out[o + 48 + 32 * g + l] = (lo & 0xf) | ((hi & 0xf) << 4);
				out[o + 16 + l] = out[o + 16 + l]! | ((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1));
			}
		}
	}
}

export function decodeQ5_K(bytes: Uint8Array, out: Float32Array): void {
	const sc = new Uint8Array(8);
	const m = new Uint8Array(8);
	for (let o = 0, b = 0; o < bytes.byteLength; o += Q5_K_BYTES, b += QK_K) {
		const d = getF16(bytes, o);
		const dmin = getF16(bytes, o + 2);
		unpackScaleMins(bytes, o + 4, sc, m);
		for (let g = 0; g < 4; g++) {
			const d1 = d * sc[2 * g]!,
				m1 = dmin * m[2 * g]!;
			const d2 = d * sc[2 * g + 1]!,
				m2 = dmin * m[2 * g + 1]!;
			for (let l = 0; l < 32; l++) {
				const byte = bytes[o + 48 + 32 * g + l]!;
				const h = bytes[o + 16 + l]!;
				out[b + 64 * g + l] = d1 * ((byte & 0xf) | (((h >> (2 * g)) & 1) << 4)) - m1;
				out[b + 64 * g + 32 + l] = d2 * ((byte >> 4) | (((h >> (2 * g + 1)) & 1) << 4)) - m2;
			}
		}
	}
}

export function encodeQ6_K(src: Float32Array, out: Uint8Array): void {
	const q = new Uint8Array(QK_K);
	const fit: Fit = { scale: 0, min: 0 };
	const w = new Float32Array(16);
	const scales = new Float32Array(16);
	const scView = new Int8Array(out.buffer, out.byteOffset, out.byteLength);
	for (let b = 0, o = 0; b < src.length; b += QK_K, o += Q6_K_BYTES) {
		const sigma2 = meanSquare(src, b);
		let maxAbs = 0;
		let maxScale = 0;
		for (let s = 0; s < 16; s++) {
			const at = b + 16 * s;
			for (let i = 0; i < 16; i++) w[i] = src[at + i]! * src[at + i]! + sigma2;
			searchSymmetric(src, at, 16, 32, w, fit);
			scales[s] = fit.scale;
			if (Math.abs(fit.scale) > maxAbs) {
				maxAbs = Math.abs(fit.scale);
				maxScale = fit.scale;
			}
		}
		// The largest scale maps to −128 (int8's longer side), as the sub-block values map to −32.
		const dBits = f32ToF16Bits(maxScale / -128);
		const d = f16BitsToF32(dBits);
		const inv = d !== 0 ? 1 / d : 0;
		for (let s = 0; s < 16; s++) {
			const ls = Math.max(-128, Math.min(127, Math.round(scales[s]! * inv)));
			scView[o + 192 + s] = ls;
			const step = d * ls;
			const is = step !== 0 ? 1 / step : 0;
			for (let i = 0; i < 16; i++) {
				const l = Math.round(src[b + 16 * s + i]! * is);
				q[16 * s + i] = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
			}
		}
		setF16(out, o + 208, dBits);
		for (let h = 0; h < 2; h++) {
			for (let l = 0; l < 32; l++) {
				const base = 128 * h + l;
				const q1 = q[base]!,
					q2 = q[base + 32]!,
					q3 = q[base + 64]!,
					q4 = q[base + 96]!;
				out[o + 64 * h + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
				out[o + 64 * h + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
				out[o + 128 + 32 * h + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
			}
		}
	}
}

export function decodeQ6_K(bytes: Uint8Array, out: Float32Array): void {
	const sc = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	for (let o = 0, b = 0; o < bytes.byteLength; o += Q6_K_BYTES, b += QK_K) {
		const d = getF16(bytes, o + 208);
		for (let h = 0; h < 2; h++) {
			for (let l = 0; l < 32; l++) {
				const lo1 = bytes[o + 64 * h + l]!;
				const lo2 = bytes[o + 64 * h + l + 32]!;
				const hi = bytes[o + 128 + 32 * h + l]!;
				const base = 128 * h + l;
				const s = 8 * h + (l >> 4);
				out[b + base] = d * sc[o + 192 + s]! * (((lo1 & 0xf) | ((hi & 3) << 4)) - 32);
				out[b + base + 32] = d * sc[o + 192 + s + 2]! * (((lo2 & 0xf) | (((hi >> 2) & 3) << 4)) - 32);
				out[b + base + 64] = d * sc[o + 192 + s + 4]! * (((lo1 >> 4) | (((hi >> 4) & 3) << 4)) - 32);
				out[b + base + 96] = d * sc[o + 192 + s + 6]! * (((lo2 >> 4) | (((hi >> 6) & 3) << 4)) - 32);
			}
		}
	}
}
