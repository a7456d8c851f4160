/**
 * Reads elements [from, to) (row-major order of the view's shape) of a strided view out of its storage: the storage
 * indexes of those elements are computed with an odometer over the multi-index, the span of storage they cover is
 * read once, and each element's bytes are copied into place. Memory is the output plus that span, which for a
 * transposed view can be the whole storage (bounded by the checkpoint's own tensor sizes).
 */
import type { TensorLayout } from "./state-dict.js";

/**
 * Fills `out` (exactly (to − from) · `el` bytes) with elements [from, to) of `layout`. `readSpan(buf, index)` fills
 * `buf` with the storage's bytes starting at element `index`.
 */
export async function gatherStrided(
	layout: TensorLayout,
	el: number,
	from: number,
	to: number,
	out: Uint8Array,
	readSpan: (buf: Uint8Array, elementIndex: number) => Promise<void>,
): Promise<void> {
	const count = to - from;
	if (count <= 0) return;
	const { shape, stride } = layout;
	const rank = shape.length;
	// The multi-index of element `from`, then the storage index of each element in turn.
	const index = new Array<number>(rank).fill(0);
	let rest = from;
	for (let d = rank - 1; d >= 0; d--) {
		const size = shape[d]!;
		index[d] = rest % size;
		rest = Math.floor(rest / size);
	}
	let at = layout.offset;
	for (let d = 0; d < rank; d++) at += index[d]! * stride[d]!;
	const where = new Float64Array(count);
	let lo = at;
	let hi = at;
	for (let k = 0; k < count; k++) {
		where[k] = at;
		if (at < lo) lo = at;
		if (at > hi) hi = at;
		// Advance the odometer: the last dimension fastest.
		for (let d = rank - 1; d >= 0; d--) {
			if (++index[d]! < shape[d]!) {
				at += stride[d]!;
				break;
			}
			at -= (shape[d]! - 1) * stride[d]!;
			index[d] = 0;
		}
	}
	const span = new Uint8Array((hi - lo + 1) * el);
	await readSpan(span, lo);
	for (let k = 0; k < count; k++) {
		const src = (where[k]! - lo) * el;
		out.set(span.subarray(src, src + el), k * el);
	}
}
