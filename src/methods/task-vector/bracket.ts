/**
 * The two-pass route of a rank cut (RankCutSearch in rank-cut-search.ts): a sparse sample of |δ| keys brackets the
 * k-th largest key between keys lo and hi, then one pass over δ counts the keys above hi and collects those inside
 * [lo, hi], from which the cut follows exactly.
 *
 * Task vectors of bf16 checkpoints are coarsely quantized (a few multiples of the base weights' ulp), so a bracket
 * often holds a few heavily repeated keys: up to LIST_MAX of them ("listed" keys, the ones the sample saw often) are
 * only counted, branch-free, and the other keys inside the bracket are gathered (their |δ| kept in index order).
 * Counts are also noted at the start of each tile of TIE_TILE elements, so the position of the last tied key taken
 * is known to within a tile; the kernel finds it exactly when it sees that tile again (RankCutSearch.locateTie).
 *
 * Magnitudes compare as floats: for non-NaN values |δ| order is key order. NaN keys (above +Infinity) count as
 * above a bracket whose hi key is not a NaN; a bracket reaching NaN keys is not planned.
 */
import { ABS_MASK, absRankCut, bitsOf, descend, INF_KEY, valueOfKey } from "../../tensor/radix-select.js";
import { ARENA_INPUTS, arenaOf, type WasmArena } from "../../wasm/kernels.js";
import { flag } from "./fill.js";

/** Tie positions are noted per tile of this many elements (a power of two: tile starts are g % TIE_TILE === 0). */
export const TIE_TILE = 1024;

/**
 * Bracket half-width in standard deviations of the sample rank: a k-th key outside it (then the radix route runs,
 * slower but exact) has probability about 1e-4 at 4σ, while the bracket holds about 8σ/√s of n.
 */
const BRACKET_SIGMAS = 4;
/** Sample ranks added on each side of the bracket, covering the rounding of k·s/n. */
const BRACKET_SLACK = 2;
/** At most this many heavily repeated keys are counted instead of gathered (each costs a compare per element). */
const LIST_MAX = 4;
/**
 * A key is listed when it holds at least this share of the sample. Counting a key costs a compare per element,
 * gathering it a rarely taken branch and a store per occurrence: about even near this share, and above it the
 * gathered values would crowd the capacity.
 */
const LIST_MIN_SHARE = 1 / 64;
/**
 * A bracket whose unlisted keys hold more than this share of the sample takes the radix route: the gathered |δ|
 * would otherwise exceed this fraction of n (4 bytes each), and gathering stops paying off.
 */
const GATHER_MAX_FRACTION = 1 / 8;
/**
 * At most this many gathered values per cut (16 MB): bounds the kernel's memory on the largest tensors (a 7B
 * model's 131 M-element embedding gathers a few % of n), whatever their share.
 */
const GATHER_MAX_ENTRIES = 1 << 22;
/** Room above the sample's estimate of the gathered count (its own sampling error) before the bracket gives up. */
const GATHER_HEADROOM = 1.5;
const GATHER_MIN_CAPACITY = 4096;
/** Gathered keys spanning at most this many values are ranked by one direct count (256 KB of counters). */
const DIRECT_RANGE = 1 << 16;

/** The k-th key found in a bracket: the key, how many equal keys are taken, and where the last taken one is. */
interface BracketCut {
	key: number;
	/** All keys equal to the cut are taken (no tie end to find). */
	allTaken: boolean;
	/** Otherwise: the tie end lies at or after tile `tile`, at the `need`-th key equal to the cut from its start. */
	tile: number;
	need: number;
}

/** The r-th largest of `keys` (1 ≤ r ≤ keys.length): [its key, how many equal keys are taken]. */
function selectGathered(keys: Uint32Array, r: number): [key: number, taken: number] {
	let min = ABS_MASK;
	let max = 0;
	for (let i = 0; i < keys.length; i++) {
		const key = keys[i]!;
		min = key < min ? key : min;
		max = key > max ? key : max;
	}
	if (max - min < DIRECT_RANGE) {
		// Gathered keys usually span few values (quantized task vectors): one direct count.
		const counts = new Uint32Array(max - min + 1);
		for (let i = 0; i < keys.length; i++) counts[keys[i]! - min]!++;
		const [digit, taken] = descend(counts, r);
		return [min + digit, taken];
	}
	const cut = absRankCut(keys, r);
	return [cut.key, cut.takeEqual];
}

/** The last tile whose starting count is ≤ position (tile counts never decrease). */
function tileOf(tiles: Int32Array, count: number, position: number): number {
	let lo = 0;
	let hi = count - 1;
	while (lo < hi) {
		const mid = (lo + hi + 1) >>> 1;
		if (tiles[mid]! <= position) lo = mid;
		else hi = mid - 1;
	}
	return lo;
}

/** One cut's bracket: planned from the sample, filled by one pass, then resolved. */
export class RankBracket {
	private above = 0;
	/** Listed keys (NaN marks an unused slot: no |δ| equals it), their counts and per-tile counts. */
	private readonly listVals = new Float64Array(LIST_MAX).fill(Number.NaN);
	private readonly listKeys: number[];
	private readonly listCounts = new Float64Array(LIST_MAX);
	private readonly listTiles: Int32Array[];
	private gatheredCount = 0;
	private readonly gathered: Float32Array;
	private readonly gatherTiles: Int32Array;
	private readonly tileCount: number;

	private constructor(
		private readonly lo: number,
		private readonly hi: number,
		listed: number[],
		capacity: number,
		n: number,
	) {
		this.listKeys = listed;
		for (const [i, key] of listed.entries()) this.listVals[i] = valueOfKey(key);
		this.tileCount = Math.ceil(n / TIE_TILE);
		this.listTiles = listed.map(() => new Int32Array(this.tileCount));
		this.gathered = new Float32Array(capacity);
		this.gatherTiles = new Int32Array(this.tileCount);
	}

	/**
	 * The bracket of the k-th largest of n keys from the sample (ascending), or undefined when a bracket cannot help
	 * (it reaches NaN keys, or its unlisted keys are too many to gather).
	 */
	static plan(asc: Uint32Array, k: number, n: number): RankBracket | undefined {
		const s = asc.length;
		const p = k / n;
		const rank = p * s;
		const half = BRACKET_SIGMAS * Math.sqrt(s * p * (1 - p)) + BRACKET_SLACK;
		// Descending sample rank r is asc[s − 1 − r]; past either end the bracket is open on that side.
		const hiRank = Math.floor(rank - half) - 1;
		const loRank = Math.ceil(rank + half);
		const hiKey = hiRank < 0 ? INF_KEY : asc[s - 1 - hiRank]!;
		const loKey = loRank >= s ? 0 : asc[s - 1 - loRank]!;
		if (hiKey > INF_KEY) return undefined;
		// Runs of equal sample keys inside the bracket: the heaviest become listed keys.
		const runs: [key: number, count: number][] = [];
		let share = 0;
		for (let i = 0; i < s; i++) {
			const key = asc[i]!;
			if (key < loKey || key > hiKey) continue;
			share++;
			if (runs.length > 0 && runs[runs.length - 1]![0] === key) runs[runs.length - 1]![1]++;
			else runs.push([key, 1]);
		}
		const listed = runs
			.filter(([, count]) => count >= s * LIST_MIN_SHARE)
			.sort((a, b) => b[1] - a[1])
			.slice(0, LIST_MAX);
		const unlisted = share - listed.reduce((sum, [, count]) => sum + count, 0);
		const expected = (unlisted / s) * n;
		if (unlisted > s * GATHER_MAX_FRACTION || expected > GATHER_MAX_ENTRIES) return undefined;
		const capacity = Math.min(
			Math.floor(n * GATHER_MAX_FRACTION),
			Math.ceil(expected * GATHER_HEADROOM) + GATHER_MIN_CAPACITY,
			GATHER_MAX_ENTRIES,
		);
		return new RankBracket(
			valueOfKey(loKey),
			valueOfKey(hiKey),
			listed.map(([key]) => key),
			Math.max(1, capacity),
			n,
		);
	}

	/** The bracket pass over elements [from, to) of x and b (element 0 at global index `shift`), in index order. */
	scan(x: Float32Array, b: Float32Array, from: number, to: number, shift: number): void {
		const listed = this.listKeys.length;
		const counts = this.listCounts;
		const arena = arenaOf(x, b);
		for (let j = from; j < to; ) {
			const g = j + shift;
			const end = Math.min(to, j + TIE_TILE - (g % TIE_TILE));
			if (g % TIE_TILE === 0) {
				const t = g / TIE_TILE;
				this.gatherTiles[t] = this.gatheredCount;
				for (let i = 0; i < listed; i++) this.listTiles[i]![t] = counts[i]!;
			}
			if (arena !== undefined) this.scanWasm(arena, x, b, j, end);
			else if (listed <= 1) this.scanOne(x, b, j, end);
			else this.scanFour(x, b, j, end);
			j = end;
		}
	}

	/** scanOne / scanFour compiled, for blocks in the WebAssembly arena (gathering through its output slot). */
	private scanWasm(arena: WasmArena, x: Float32Array, b: Float32Array, from: number, to: number): void {
		const v = this.listVals;
		const c = arena.counts;
		c.fill(0, 0, 5);
		const scratch = arena.slots[ARENA_INPUTS]!;
		const got = arena.k.bracket_scan(
			x.byteOffset + 4 * from,
			b.byteOffset + 4 * from,
			to - from,
			this.lo,
			this.hi,
			v[0]!,
			v[1]!,
			v[2]!,
			v[3]!,
			scratch.byteOffset,
			c.byteOffset,
		);
		// Past the capacity only the count goes on (the bracket then gives up, as scanOne's does).
		const room = Math.min(got, this.gathered.length - this.gatheredCount);
		if (room > 0) this.gathered.set(scratch.subarray(0, room), this.gatheredCount);
		this.gatheredCount += got;
		this.above += c[0]!;
		for (let i = 0; i < LIST_MAX; i++) this.listCounts[i] = this.listCounts[i]! + c[1 + i]!;
	}

	/** At most one listed key (NaN when none: no |δ| equals it, so everything inside is gathered). */
	private scanOne(x: Float32Array, b: Float32Array, from: number, to: number): void {
		const { lo, hi, gathered } = this;
		const cap = gathered.length;
		const v0 = this.listVals[0]!;
		let above = 0;
		let c0 = 0;
		let inside = this.gatheredCount;
		for (let j = from; j < to; j++) {
			const a = Math.abs(Math.fround(x[j]! - b[j]!));
			// NaN is above every bracket: !(a <= hi) holds for it.
			const under = flag(a <= hi);
			above += under ^ 1;
			c0 += flag(a === v0);
			// One branch on the combined test: rarely taken, so well predicted (a >= lo alone is a coin flip).
			if ((flag(a >= lo) & under & flag(a !== v0)) === 1) {
				if (inside < cap) gathered[inside] = a;
				inside++;
			}
		}
		this.above += above;
		this.listCounts[0] = this.listCounts[0]! + c0;
		this.gatheredCount = inside;
	}

	/** Two to four listed keys (unused slots are NaN). */
	private scanFour(x: Float32Array, b: Float32Array, from: number, to: number): void {
		const { lo, hi, gathered } = this;
		const cap = gathered.length;
		const vals = this.listVals;
		const v0 = vals[0]!;
		const v1 = vals[1]!;
		const v2 = vals[2]!;
		const v3 = vals[3]!;
		let above = 0;
		let c0 = 0;
		let c1 = 0;
		let c2 = 0;
		let c3 = 0;
		let inside = this.gatheredCount;
		for (let j = from; j < to; j++) {
			const a = Math.abs(Math.fround(x[j]! - b[j]!));
			const under = flag(a <= hi);
			above += under ^ 1;
			const e0 = flag(a === v0);
			const e1 = flag(a === v1);
			const e2 = flag(a === v2);
			const e3 = flag(a === v3);
			c0 += e0;
			c1 += e1;
			c2 += e2;
			c3 += e3;
			if ((flag(a >= lo) & under & ((e0 | e1 | e2 | e3) ^ 1)) === 1) {
				if (inside < cap) gathered[inside] = a;
				inside++;
			}
		}
		const counts = this.listCounts;
		this.above += above;
		counts[0] = counts[0]! + c0;
		counts[1] = counts[1]! + c1;
		counts[2] = counts[2]! + c2;
		counts[3] = counts[3]! + c3;
		this.gatheredCount = inside;
	}

	/** The cut for the k-th largest key, or undefined when the bracket missed it (or overflowed its gather). */
	resolve(k: number): BracketCut | undefined {
		const listed = this.listKeys.length;
		const counts = Array.from(this.listCounts.subarray(0, listed));
		const inside = this.gatheredCount;
		const total = inside + counts.reduce((a, b) => a + b, 0);
		if (!(this.above < k && k <= this.above + total) || inside > this.gathered.length) return undefined;
		const r = k - this.above;
		const keys = bitsOf(this.gathered.subarray(0, inside));
		// Walk the listed keys from the top; gathered keys between them are ranked among themselves.
		const order = counts.map((_, i) => i).sort((p, q) => this.listKeys[q]! - this.listKeys[p]!);
		let before = 0;
		for (const i of order) {
			const key = this.listKeys[i]!;
			let gatheredAbove = 0;
			for (let j = 0; j < inside; j++) gatheredAbove += flag(keys[j]! > key);
			if (r <= before + gatheredAbove) break;
			if (r <= before + gatheredAbove + counts[i]!) return this.listedCut(i, r - before - gatheredAbove);
			before += counts[i]!;
		}
		const [key, taken] = selectGathered(keys, r - before);
		return this.gatheredCut(keys, key, taken);
	}

	/** The cut at listed key i, taking `taken` of its occurrences. */
	private listedCut(i: number, taken: number): BracketCut {
		const key = this.listKeys[i]!;
		if (taken === this.listCounts[i]) return { key, allTaken: true, tile: 0, need: 0 };
		const tiles = this.listTiles[i]!;
		const tile = tileOf(tiles, this.tileCount, taken - 1);
		return { key, allTaken: false, tile, need: taken - tiles[tile]! };
	}

	/** The cut at a gathered key, taking its first `taken` occurrences in index order. */
	private gatheredCut(keys: Uint32Array, key: number, taken: number): BracketCut {
		let equal = 0;
		let last = -1;
		for (let j = 0; j < keys.length; j++) {
			if (keys[j] === key && ++equal === taken) last = j;
		}
		if (taken === equal) return { key, allTaken: true, tile: 0, need: 0 };
		const tile = tileOf(this.gatherTiles, this.tileCount, last);
		let need = 0;
		for (let j = this.gatherTiles[tile]!; j <= last; j++) need += flag(keys[j] === key);
		return { key, allTaken: false, tile, need };
	}
}
