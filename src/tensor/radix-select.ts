/**
 * Exact magnitude ranking on IEEE-754 bit patterns, in O(n) with no sort and no per-element allocation. With the
 * sign bit cleared, the 31-bit integer of a float32 orders exactly like |x| (+0 and −0 equal, every NaN above
 * +Infinity), so ranking |x| is ranking small integers.
 *
 * A selection is a {@link RankCut}: the k largest magnitudes are every key above `cut.key` plus the first
 * `cut.takeEqual` keys equal to it in index order. Callers evaluate the cut inline (one compare and a counter per
 * element), so a kernel can apply a top-k mask while it combines, without a mask array.
 */

/** Clears the sign bit: the result orders like |x| (NaN above +Inf, ±0 equal). */
export const ABS_MASK = 0x7fffffff;

/**
 * Radix digits over the 31 magnitude bits, high to low: 11 + 10 + 10 bits. Three passes keep each histogram small
 * (≤ 2048 counters, cache-resident) while the number of passes over the data stays constant.
 */
const TOP_SHIFT = 20;
const TOP_SIZE = 1 << 11; // = 1 << TOP_DIGIT_BITS
const LOW_BITS = 10;
const LOW_SIZE = 1 << LOW_BITS;
const LOW_MASK = LOW_SIZE - 1;
const TAIL_MASK = (1 << TOP_SHIFT) - 1;

/**
 * After the top-digit pass, the elements sharing the k-th key's top digit are copied into a side array (their low
 * 20 bits and their indices) when they are at most this fraction of n, so the remaining passes read those instead
 * of all data. Checkpoint deltas put a few percent of n in one top bucket; a bigger bucket (heavy ties) falls back to
 * filtered passes over the data, so the two side arrays hold at most n/8 words each (a quarter of the input).
 */
const GATHER_MAX_FRACTION = 1 / 8;

/**
 * Where the k largest magnitudes end: every key above `key`, plus the first `takeEqual` keys equal to it in index
 * order — which are exactly the keys equal to it at indices below `tieEnd`, so a kernel can test membership
 * without a running counter: key > cut.key || (key === cut.key && i < cut.tieEnd).
 */
interface RankCut {
	readonly key: number;
	readonly takeEqual: number;
	readonly tieEnd: number;
}

/** The cut selecting nothing (no key is above it) and the one selecting everything. */
const NONE: RankCut = { key: 0x80000000, takeEqual: 0, tieEnd: 0 };
const ALL: RankCut = { key: -1, takeEqual: 0, tieEnd: 0 };

/** The bit patterns of a float32 array (a view, no copy). */
export function bitsOf(x: Float32Array): Uint32Array {
	return new Uint32Array(x.buffer, x.byteOffset, x.length);
}

/**
 * Histograms count into 4 interleaved copies (element i into copy i & 3), summed at the end: runs of equal keys,
 * common in checkpoint deltas, would otherwise chain every increment on the previous one through memory. The
 * index arithmetic (`i & 3`) fixes the count at 4.
 */
export const HISTOGRAM_COPIES = 4;

/** Sums the HISTOGRAM_COPIES copies of `wide` (copy c at c·size) into one histogram of `size` counters. */
export function mergeCopies(wide: Uint32Array, size: number): Uint32Array {
	const out = new Uint32Array(size);
	for (let d = 0; d < size; d++) out[d] = wide[d]! + wide[size + d]! + wide[2 * size + d]! + wide[3 * size + d]!;
	return out;
}

/** Width of the top digit in bits. */
export const TOP_DIGIT_BITS = 11;
/** Size of a {@link topDigitHistogram}. Callers filling one themselves use a 4-copy array and {@link mergeCopies}. */
export const TOP_DIGIT_BUCKETS = TOP_SIZE;
/** Shift of the top digit: element i counts at `((i & 3) << 11) | ((key & ABS_MASK) >>> TOP_DIGIT_SHIFT)`. */
export const TOP_DIGIT_SHIFT = TOP_SHIFT;

/** Histogram of the top 11 magnitude bits (kernels fill it while they write a delta instead, saving a pass). */
export function topDigitHistogram(bits: Uint32Array): Uint32Array {
	const wide = new Uint32Array(HISTOGRAM_COPIES * TOP_SIZE);
	for (let i = 0; i < bits.length; i++) wide[((i & 3) << 11) | ((bits[i]! & ABS_MASK) >>> TOP_SHIFT)]!++;
	return mergeCopies(wide, TOP_SIZE);
}

/** Scans a histogram from the top: the digit holding the `remaining`-th largest, and what is left of `remaining`. */
export function descend(hist: Uint32Array, remaining: number): [digit: number, remaining: number] {
	let digit = hist.length - 1;
	for (; digit > 0; digit--) {
		const c = hist[digit]!;
		if (c >= remaining) break;
		remaining -= c;
	}
	return [digit, remaining];
}

/**
 * The cut for the k largest |x| (k ≤ 0 selects nothing, k > n everything). `top` may be a precomputed
 * {@link topDigitHistogram} of `bits`; it is not modified.
 */
export function absRankCut(bits: Uint32Array, k: number, top?: Uint32Array): RankCut {
	const n = bits.length;
	if (k <= 0) return NONE;
	if (k > n) return ALL;
	const hist = top ?? topDigitHistogram(bits);
	const [d1, r1] = descend(hist, k);
	const bucket = hist[d1]!;
	const midWide = new Uint32Array(HISTOGRAM_COPIES * LOW_SIZE);
	const lowWide = new Uint32Array(HISTOGRAM_COPIES * LOW_SIZE);
	let d2: number;
	let r2: number;
	if (bucket <= n * GATHER_MAX_FRACTION) {
		// One pass gathers the bucket's low 20 bits (and indices) and counts their middle digit; the rest reads those.
		const tails = new Uint32Array(bucket);
		const where = new Uint32Array(bucket);
		let t = 0;
		for (let i = 0; i < n; i++) {
			const key = bits[i]! & ABS_MASK;
			if (key >>> TOP_SHIFT === d1) {
				const tail = key & TAIL_MASK;
				midWide[((t & 3) << LOW_BITS) | (tail >>> LOW_BITS)]!++;
				where[t] = i;
				tails[t++] = tail;
			}
		}
		[d2, r2] = descend(mergeCopies(midWide, LOW_SIZE), r1);
		for (let j = 0; j < t; j++) {
			const tail = tails[j]!;
			if (tail >>> LOW_BITS === d2) lowWide[((j & 3) << LOW_BITS) | (tail & LOW_MASK)]!++;
		}
		const [d3, r3] = descend(mergeCopies(lowWide, LOW_SIZE), r2);
		const cutTail = (d2 << LOW_BITS) | d3;
		let tieEnd = 0;
		for (let j = 0, seen = 0; j < t && seen < r3; j++) {
			if (tails[j] === cutTail) {
				seen++;
				tieEnd = where[j]! + 1;
			}
		}
		return { key: (d1 << TOP_SHIFT) | cutTail, takeEqual: r3, tieEnd };
	}
	for (let i = 0; i < n; i++) {
		const key = bits[i]! & ABS_MASK;
		if (key >>> TOP_SHIFT === d1) midWide[((i & 3) << LOW_BITS) | ((key >>> LOW_BITS) & LOW_MASK)]!++;
	}
	[d2, r2] = descend(mergeCopies(midWide, LOW_SIZE), r1);
	const prefix = (d1 << LOW_BITS) | d2;
	for (let i = 0; i < n; i++) {
		const key = bits[i]! & ABS_MASK;
		if (key >>> LOW_BITS === prefix) lowWide[((i & 3) << LOW_BITS) | (key & LOW_MASK)]!++;
	}
	const [d3, r3] = descend(mergeCopies(lowWide, LOW_SIZE), r2);
	// `r3` is now k minus the number of keys strictly above the k-th largest key.
	const cutKey = (prefix << LOW_BITS) | d3;
	let tieEnd = 0;
	for (let i = 0, seen = 0; i < n && seen < r3; i++) {
		if ((bits[i]! & ABS_MASK) === cutKey) {
			seen++;
			tieEnd = i + 1;
		}
	}
	return { key: cutKey, takeEqual: r3, tieEnd };
}

/** The key of +Infinity: the keys above it are NaNs, which float comparisons cannot order. */
export const INF_KEY = 0x7f800000;

/** float32 ↔ bits of one value (the keys of the few values hot loops look at one by one). */
const oneFloat = new Float32Array(1);
const oneBits = new Uint32Array(oneFloat.buffer);

/** The magnitude key of `v` rounded to float32: its bits without the sign (orders like |v|, NaN above +Infinity). */
export function keyOf(v: number): number {
	oneFloat[0] = v;
	return oneBits[0]! & ABS_MASK;
}

/**
 * The float magnitude of a key, for comparing |v| as floats instead of keys: exact for keys 0 … INF_KEY; −Infinity
 * below 0 (every magnitude is above it) and +Infinity above INF_KEY (no non-NaN magnitude is above a NaN key).
 */
export function valueOfKey(key: number): number {
	if (key < 0) return Number.NEGATIVE_INFINITY;
	if (key > INF_KEY) return Number.POSITIVE_INFINITY;
	oneBits[0] = key;
	return oneFloat[0]!;
}
