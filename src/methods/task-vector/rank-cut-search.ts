/**
 * The exact cut of the k largest |δ| (the (key, tieEnd) of absRankCut in tensor/radix-select.ts), found over scan
 * passes that see δ = f32(x − b) block by block, in index order. Usual route, two passes:
 *
 * - SAMPLE (pass 0): the model's RankSample reads spread-out keys, which bracket the k-th largest key;
 * - BRACKET (pass 1): RankBracket counts the keys above the bracket and collects those inside it; the cut key
 *   follows, and the tie end (which equal key is the last one taken) is located later by {@link locateTie}, when
 *   the blocks holding it are seen again (bracket.ts).
 *
 * If the bracket misses the k-th key, or cannot be planned, the radix search runs instead: TOP (the model's
 * top-digit histogram, counted by the kernel), MID and LOW (10-bit digits) and TIES (the tie end), one pass each.
 */
import { ABS_MASK, descend, keyOf, TOP_DIGIT_SHIFT, valueOfKey } from "../../tensor/radix-select.js";
import { RankBracket, TIE_TILE } from "./bracket.js";

/** Sample size: one key per SAMPLE_STRIDE elements, at most SAMPLE_MAX keys (the bracket narrows as 1/√s). */
const SAMPLE_STRIDE = 16;
const SAMPLE_MAX = 1 << 16;

/** Spread-out |δ| keys of one model (one per stride window, at a hashed offset), read in pass 0. */
export class RankSample {
	readonly keys: Uint32Array;
	private readonly stride: number;
	private sorted = false;

	constructor(n: number) {
		const count = Math.max(1, Math.min(SAMPLE_MAX, Math.floor(n / SAMPLE_STRIDE)));
		this.stride = Math.max(1, Math.floor(n / count));
		this.keys = new Uint32Array(count);
	}

	/** The global index of sample t: in [t·stride, (t + 1)·stride), so the sample covers the whole tensor. */
	position(t: number): number {
		return t * this.stride + ((Math.imul(t, 0x9e3779b1) >>> 0) % this.stride);
	}

	/** Reads the sample positions inside elements [from, to) of x and b, whose element 0 has global index `shift`. */
	collect(x: Float32Array, b: Float32Array, from: number, to: number, shift: number): void {
		const keys = this.keys;
		const last = Math.min(keys.length - 1, Math.floor((to - 1 + shift) / this.stride));
		for (let t = Math.floor((from + shift) / this.stride); t <= last; t++) {
			const j = this.position(t) - shift;
			if (j >= from && j < to) keys[t] = keyOf(x[j]! - b[j]!);
		}
	}

	/** The keys in ascending order (sorted once, after pass 0). */
	ascending(): Uint32Array {
		if (!this.sorted) this.keys.sort();
		this.sorted = true;
		return this.keys;
	}
}

/** The middle and low radix digits are 10 bits each (31 magnitude bits = 11 + 10 + 10, as in radix-select.ts). */
const DIGIT_BITS = 10;
const DIGIT_BUCKETS = 1 << DIGIT_BITS;
const DIGIT_MASK = DIGIT_BUCKETS - 1;

/** What a cut needs next; each stage but DONE is one scan pass. */
export const STAGE_SAMPLE = 0;
export const STAGE_BRACKET = 1;
export const STAGE_TOP = 2;
const STAGE_MID = 3;
const STAGE_LOW = 4;
const STAGE_TIES = 5;
export const STAGE_DONE = 6;

/** Passes of the radix route (TOP, MID, LOW, TIES): the most a missed bracket can add. */
const RADIX_PASSES = 4;

/** The cut keys of absRankCut's "select nothing" (k ≤ 0) and "select everything" (k > n). */
const NONE_KEY = 0x80000000;
const ALL_KEY = -1;

/**
 * One rank cut being found. Selection: key > cut.key, or key === cut.key at a global index below cut.tieEnd. `key`
 * is final once the stage is DONE; `tieEnd` too unless {@link tiePending}, until locateTie has seen its tile.
 */
export class RankCutSearch {
	key = NONE_KEY;
	tieEnd = 0;
	stage = STAGE_DONE;
	private bracket: RankBracket | undefined;
	/** Pending tie end: the search starts at global index tieFrom and stops at the tieNeed-th key equal to the cut. */
	private tieFrom = 0;
	private tieNeed = 0;
	private tieVal = 0;
	/** Radix route: k, then what is left of it below the digits chosen so far; the digits chosen, high to low. */
	private remaining = 0;
	private prefix = 0;
	private readonly hist = new Uint32Array(DIGIT_BUCKETS);
	private seen = 0;

	constructor(
		private readonly k: number,
		private readonly n: number,
	) {
		if (k > n) this.key = ALL_KEY;
		else if (k > 0) this.stage = STAGE_SAMPLE;
	}

	/** An upper bound on the scan passes this cut still needs. */
	get passesLeft(): number {
		if (this.stage === STAGE_SAMPLE) return 2 + RADIX_PASSES;
		if (this.stage === STAGE_BRACKET) return 1 + RADIX_PASSES;
		return STAGE_DONE - this.stage;
	}

	get tiePending(): boolean {
		return this.tieNeed > 0;
	}

	/** Whether the current pass needs the model's integer keys (the radix route). */
	get wantsKeys(): boolean {
		return this.stage >= STAGE_TOP && this.stage < STAGE_DONE;
	}

	/** After pass 0: plans the bracket from the model's sample, or takes the radix route when it cannot help. */
	planBracket(sample: RankSample): void {
		if (this.stage !== STAGE_SAMPLE) return;
		this.bracket = RankBracket.plan(sample.ascending(), this.k, this.n);
		if (this.bracket !== undefined) this.stage = STAGE_BRACKET;
		else this.startRadix();
	}

	/** Bracket pass over elements [from, to) of x and b (element 0 at global index `shift`). */
	scanBracket(x: Float32Array, b: Float32Array, from: number, to: number, shift: number): void {
		this.bracket!.scan(x, b, from, to, shift);
	}

	/** After the bracket pass: the cut, or the radix route when the bracket missed. */
	private finishBracket(): void {
		const cut = this.bracket!.resolve(this.k);
		this.bracket = undefined;
		if (cut === undefined) {
			this.startRadix();
			return;
		}
		this.key = cut.key;
		this.stage = STAGE_DONE;
		// Every key equal to the cut taken: a tie end past the last element selects the same ones.
		this.tieEnd = this.n;
		if (cut.allTaken) return;
		this.tieFrom = cut.tile * TIE_TILE;
		this.tieNeed = cut.need;
		this.tieVal = valueOfKey(cut.key);
	}

	/**
	 * Locates a pending tie end in elements [from, to) (element 0 at global index `shift`); blocks must come in index
	 * order from the tie's tile on. Returns false when the blocks skipped part of the search range.
	 */
	locateTie(x: Float32Array, b: Float32Array, from: number, to: number, shift: number): boolean {
		if (this.tieNeed === 0 || this.tieFrom >= to + shift) return true;
		if (this.tieFrom < from + shift) return false;
		const val = this.tieVal;
		let need = this.tieNeed;
		for (let j = this.tieFrom - shift; j < to; j++) {
			if (Math.abs(Math.fround(x[j]! - b[j]!)) === val && --need === 0) {
				this.tieEnd = j + shift + 1;
				this.tieNeed = 0;
				return true;
			}
		}
		this.tieNeed = need;
		this.tieFrom = to + shift;
		return true;
	}

	private startRadix(): void {
		this.remaining = this.k;
		this.stage = STAGE_TOP;
	}

	/** Radix MID / LOW / TIES pass over one block's keys (|δ| bits; element i at global index `shift` + i). */
	scanKeys(keys: Uint32Array, from: number, to: number, shift: number): void {
		const prefix = this.prefix;
		const hist = this.hist;
		if (this.stage === STAGE_MID) {
			for (let i = from; i < to; i++) {
				const key = keys[i]! & ABS_MASK;
				if (key >>> TOP_DIGIT_SHIFT === prefix) hist[(key >>> DIGIT_BITS) & DIGIT_MASK]!++;
			}
		} else if (this.stage === STAGE_LOW) {
			for (let i = from; i < to; i++) {
				const key = keys[i]! & ABS_MASK;
				if (key >>> DIGIT_BITS === prefix) hist[key & DIGIT_MASK]!++;
			}
		} else if (this.stage === STAGE_TIES) {
			const cut = this.key;
			for (let i = from; i < to; i++) {
				if ((keys[i]! & ABS_MASK) === cut && ++this.seen === this.remaining) {
					this.tieEnd = i + shift + 1;
					this.stage = STAGE_DONE;
					return;
				}
			}
		}
	}

	/**
	 * Folds the pass that just ended into the search; `top` is the model's top-digit histogram of |δ| when the cut
	 * was at TOP. Returns false when a TIES pass ended without finding the tie end (the data changed).
	 */
	finishPass(top: Uint32Array | undefined): boolean {
		switch (this.stage) {
			case STAGE_BRACKET:
				this.finishBracket();
				return true;
			case STAGE_TOP:
				[this.prefix, this.remaining] = descend(top!, this.remaining);
				this.stage = STAGE_MID;
				return true;
			case STAGE_MID:
			case STAGE_LOW:
				this.chooseDigit();
				return true;
			case STAGE_TIES:
				return false;
			default:
				return true;
		}
	}

	/** After MID or LOW: picks that digit from its counts. */
	private chooseDigit(): void {
		const [digit, remaining] = descend(this.hist, this.remaining);
		const count = this.hist[digit]!;
		this.prefix = (this.prefix << DIGIT_BITS) | digit;
		this.remaining = remaining;
		this.hist.fill(0);
		if (this.stage === STAGE_MID) {
			this.stage = STAGE_LOW;
			return;
		}
		this.key = this.prefix;
		if (remaining === count) {
			this.tieEnd = this.n;
			this.stage = STAGE_DONE;
		} else this.stage = STAGE_TIES;
	}
}
