/**
 * The orders of torch's sorts where mergekit ranks magnitudes (TIES top-k, Breadcrumbs, DELLA ranks, SCE top-k),
 * with equal keys kept in index order: what torch's stable sort and its CUDA radix sort give. mergekit calls the
 * unstable argsort/topk, whose order among equal keys on the CPU depends on the torch build (std::sort, or
 * x86-simd-sort on AVX2/AVX-512 builds of torch ≥ 2.4), so no single CPU order exists to reproduce; the index order
 * is the one deterministic answer torch gives (docs/methods.md, "compat: mergekit").
 *
 * Keys are float32 bit patterns with the sign cleared, which order like |x| (+0 and −0 equal, NaN above +Inf,
 * as torch's comparators place NaN above every number).
 */
import { ABS_MASK, absRankCut, bitsOf } from "../../tensor/radix-select.js";

/** Magnitude keys of `x`: the bit patterns with the sign cleared. */
function magnitudeKeys(x: Float32Array): Uint32Array {
	const bits = bitsOf(x);
	const keys = new Uint32Array(x.length);
	for (let i = 0; i < keys.length; i++) keys[i] = bits[i]! & ABS_MASK;
	return keys;
}

/**
 * Marks the k largest |x| (stable descending order: equal magnitudes by lower index first), i.e. the first k
 * indices of `argsort(|x|, descending=True, stable=True)`. `keep` receives 1 or 0 per element.
 */
export function markTopK(x: Float32Array, k: number, keep: Uint8Array): void {
	const cut = absRankCut(bitsOf(x), k);
	const bits = bitsOf(x);
	for (let i = 0; i < x.length; i++) {
		const key = bits[i]! & ABS_MASK;
		keep[i] = key > cut.key || (key === cut.key && i < cut.tieEnd) ? 1 : 0;
	}
}

/** Index of the first element of ascending `sorted` that is ≥ v. */
function lowerBound(sorted: Uint32Array, v: number): number {
	let lo = 0;
	let hi = sorted.length;
	while (lo < hi) {
		const mid = (lo + hi) >>> 1;
		if (sorted[mid]! < v) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}

/** The first m positions of a stable ascending sort: every key below `cut`, and the first `takeEqual` keys equal to it. */
interface AscendingPrefix {
	cut: number;
	takeEqual: number;
}

function ascendingPrefix(sorted: Uint32Array, m: number): AscendingPrefix {
	if (m <= 0) return { cut: -1, takeEqual: 0 };
	if (m >= sorted.length) return { cut: 0x100000000, takeEqual: 0 };
	const cut = sorted[m - 1]!;
	return { cut, takeEqual: m - lowerBound(sorted, cut) };
}

/**
 * Marks the elements whose position in `argsort(|x|, stable=True)` (ascending) lies in [from, to): mergekit's
 * Breadcrumbs mask `indices[n_bot:-n_top]`. An empty range marks nothing.
 */
export function markAscendingRange(x: Float32Array, from: number, to: number, keep: Uint8Array): void {
	const keys = magnitudeKeys(x);
	const sorted = keys.slice().sort();
	const below = ascendingPrefix(sorted, from);
	const upTo = ascendingPrefix(sorted, to);
	let tiesBelow = 0;
	let tiesUpTo = 0;
	for (let i = 0; i < keys.length; i++) {
		const key = keys[i]!;
		let inBelow = key < below.cut;
		if (key === below.cut) inBelow = tiesBelow++ < below.takeEqual;
		let inUpTo = key < upTo.cut;
		if (key === upTo.cut) inUpTo = tiesUpTo++ < upTo.takeEqual;
		keep[i] = inUpTo && !inBelow ? 1 : 0;
	}
}

/** Rows longer than this rank with a comparison sort (the packed key·2^21 + column no longer fits a float64). */
const PACKED_MAX_COLUMNS = 1 << 21;

/**
 * The 0-based position of each element of one row in `argsort(|row|, stable=True)` — i.e. `argsort(argsort(|row|))`,
 * DELLA's ranks minus one — written to `ranks`.
 */
export function ascendingRanks(row: Float32Array, ranks: Float64Array): void {
	const n = row.length;
	const keys = magnitudeKeys(row);
	if (n <= PACKED_MAX_COLUMNS) {
		// key < 2^31 and column < 2^21: key·2^21 + column < 2^52 is exact, and sorting it sorts by (key, column).
		const packed = new Float64Array(n);
		for (let i = 0; i < n; i++) packed[i] = keys[i]! * PACKED_MAX_COLUMNS + i;
		packed.sort();
		for (let r = 0; r < n; r++) ranks[packed[r]! % PACKED_MAX_COLUMNS] = r;
		return;
	}
	const order = Array.from({ length: n }, (_, i) => i);
	order.sort((a, b) => keys[a]! - keys[b]! || a - b);
	for (let r = 0; r < n; r++) ranks[order[r]!] = r;
}
