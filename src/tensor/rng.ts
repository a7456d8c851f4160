/**
 * Counter-based random numbers: the value for element `i` of a stream is a pure hash of (key, i), so
 * results do not depend on draw order, chunking, thread count or backend. A stream's key comes from
 * (seed, tensor name, model index, purpose).
 */

/** A sequential view on a stream, for code that wants `next()`. */
interface Rng {
	next(): number;
}

/** A 64-bit stream key as two 32-bit halves (JS numbers stay in 32-bit integer arithmetic). */
export interface RngKey {
	readonly hi: number;
	readonly lo: number;
}

/** Murmur3's 32-bit finaliser: full avalanche, cheap (two multiplies). */
function fmix32(h: number): number {
	h ^= h >>> 16;
	h = Math.imul(h, 0x85ebca6b);
	h ^= h >>> 13;
	h = Math.imul(h, 0xc2b2ae35);
	h ^= h >>> 16;
	return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of a string, then avalanched. */
function hashString(s: string, seed: number): number {
	let h = (0x811c9dc5 ^ seed) >>> 0;
	for (let i = 0; i < s.length; i++) {
		h ^= s.charCodeAt(i);
		h = Math.imul(h, 0x01000193);
	}
	return fmix32(h);
}

/** The key of the stream used for (seed, tensorName, modelIndex, purpose). */
export function rngKey(seed: number, tensorName: string, modelIndex: number, purpose = 0): RngKey {
	const s = seed >>> 0;
	const sHi = Math.floor(seed / 0x100000000) >>> 0;
	const name = hashString(tensorName, s ^ 0x9e3779b9);
	const hi = fmix32(name ^ Math.imul(modelIndex + 1, 0x27d4eb2f) ^ fmix32(sHi + 0x165667b1));
	const lo = fmix32(hashString(tensorName, hi) ^ Math.imul(purpose + 1, 0x9e3779b1) ^ s);
	return { hi, lo };
}

/** 2^32: uniform values are 32-bit hashes divided by this (exact in float64). */
export const UNIFORM_SCALE = 0x100000000;

/**
 * The uniform value in [0, 1) at position `index` (an integer ≥ 0, below 2^53) of the stream `key`.
 * Two rounds of mixing over a 64-bit (key, counter) input; resolution 2^-32. This is the reference definition:
 * hot loops (DARE, DELLA) inline the same hash, and tests check that they agree with it element for element.
 */
export function uniformAt(key: RngKey, index: number): number {
	const lo = index >>> 0;
	const hi = index < UNIFORM_SCALE ? 0 : (index / UNIFORM_SCALE) >>> 0;
	let h = fmix32((lo ^ key.lo) + Math.imul(hi ^ key.hi, 0x9e3779b1));
	h = fmix32(h ^ key.hi ^ Math.imul(lo, 0x85ebca77));
	return h / UNIFORM_SCALE;
}

/** A sequential generator over the stream `key`, starting at `start`. */
export function createRng(key: RngKey, start = 0): Rng {
	let i = start;
	return { next: () => uniformAt(key, i++) };
}

/**
 * The 32-bit hash behind uniformAt(key, index) for 0 ≤ index < 2^32, given hiMix = Math.imul(key.hi, 0x9e3779b1):
 * uniformAt(key, index) = (counterHash(...) >>> 0) / 2^32. The same mixing as uniformAt with the counter's high
 * word fixed at 0, written in int32 steps small enough for the JIT to inline into bulk loops (DARE, DELLA); tests
 * check it against uniformAt. Returns an int32 (use `>>> 0` for the unsigned value).
 */
export function counterHash(index: number, kLo: number, kHi: number, hiMix: number): number {
	let h = ((index ^ kLo) + hiMix) | 0;
	h ^= h >>> 16;
	h = Math.imul(h, 0x85ebca6b);
	h ^= h >>> 13;
	h = Math.imul(h, 0xc2b2ae35);
	h ^= h >>> 16;
	h = h ^ kHi ^ Math.imul(index, 0x85ebca77);
	h ^= h >>> 16;
	h = Math.imul(h, 0x85ebca6b);
	h ^= h >>> 13;
	h = Math.imul(h, 0xc2b2ae35);
	return h ^ (h >>> 16);
}

/** The `hiMix` argument of {@link counterHash} for `key`. */
export function counterHiMix(key: RngKey): number {
	return Math.imul(key.hi, 0x9e3779b1);
}

/**
 * Fills out[j] (0 ≤ j < count) with the 32-bit hash behind uniformAt(key, start + j·stride), so that
 * uniformAt(key, start + j·stride) = out[j] / 2^32 exactly, and `uniformAt(...) < p` ⇔ `out[j] < p·2^32`.
 */
export function uniformBitsInto(key: RngKey, start: number, stride: number, count: number, out: Uint32Array): void {
	if (count <= 0) return;
	if (start < 0 || start + (count - 1) * stride >= UNIFORM_SCALE) {
		// Counters past 2^32 carry a high word; rare enough for the reference path.
		for (let j = 0; j < count; j++) out[j] = uniformAt(key, start + j * stride) * UNIFORM_SCALE;
		return;
	}
	const kLo = key.lo;
	const kHi = key.hi;
	const hiMix = counterHiMix(key);
	for (let j = 0, index = start; j < count; j++, index += stride) out[j] = counterHash(index, kLo, kHi, hiMix);
}
