/**
 * The per-model unit of the generic task-vector combine: a {@link Term} says how one model's sparsified, rescaled
 * task vector is produced element by element over a range of the arrays (fill.ts evaluates it). Terms
 * are flat objects of one shape, built only by {@link makeTerm}, so the hot loops see a single hidden class.
 */
import type { RngKey } from "../../tensor/rng.js";

/** Every entry is kept (no sparsifier, density ≥ 1, or DARE-L1 / DELLA with drops already zeroed in the stored δ). */
export const MASK_ALL = 0;
/** No entry is kept: density ≤ 0 for DARE / DELLA, or an empty rank range (δ zeroed, never rescaled). */
export const MASK_ZERO = 1;
/** DARE: entry i survives when uniformAt(key, offset + i) < density (hash drawn inline). */
export const MASK_RANDOM = 2;
/** Descending-|δ| ranks in [lower, upper) of δ = f32(x − b) (rank cuts, ties by index; see RankCutSearch). */
export const MASK_CUTS = 3;
/** Entry i survives when bit (bitShift + i) of `keepBits` is set (DARE decisions taken in a scan pass). */
export const MASK_BITS = 4;

/** Rescale of kept entries, each rounded to float32 like a stored task vector: none, ×factor, ÷density. */
export const SCALE_NONE = 0;
export const SCALE_MUL = 1;
export const SCALE_DIV = 2;

/** One model's contribution: weight · scale(mask(δ)), with δ stored or recomputed as f32(x − b). */
export interface Term {
	weight: number;
	model: Float32Array;
	/** The stored task vector (ranked or pre-masked), or undefined when δ is recomputed from `model` and the base. */
	delta: Float32Array | undefined;
	mask: number;
	/** MASK_RANDOM: the stream and the threshold (keep when hash < threshold = density·2^32). */
	key: RngKey;
	offset: number;
	threshold: number;
	/** MASK_BITS: one keep bit per element, element i at bit bitShift + i. */
	keepBits: Int32Array | undefined;
	bitShift: number;
	/**
	 * MASK_CUTS: keep the keys above upperKey, or equal to it at an index below upperTieEnd, minus those passing the
	 * same test for the lower cut (NO_LOWER: none). Tie ends are array indices (the global tie end minus the global
	 * index of element 0).
	 */
	upperKey: number;
	upperTieEnd: number;
	lowerKey: number;
	lowerTieEnd: number;
	scale: number;
	/** The factor of SCALE_MUL or the density of SCALE_DIV. */
	scaleValue: number;
}

const NO_KEY: RngKey = { hi: 0, lo: 0 };
/** The lower cut of a plain top-k: no 31-bit key is above it, so nothing is cut from below. */
export const NO_LOWER = 0x80000000;

/** The one constructor of terms (a single hidden class for the hot loops). */
export function makeTerm(weight: number, model: Float32Array, fields: Partial<Term> = {}): Term {
	return {
		weight,
		model,
		delta: fields.delta,
		mask: fields.mask ?? MASK_ALL,
		key: fields.key ?? NO_KEY,
		offset: fields.offset ?? 0,
		threshold: fields.threshold ?? 0,
		keepBits: fields.keepBits,
		bitShift: fields.bitShift ?? 0,
		upperKey: fields.upperKey ?? -1,
		upperTieEnd: fields.upperTieEnd ?? 0,
		lowerKey: fields.lowerKey ?? NO_LOWER,
		lowerTieEnd: fields.lowerTieEnd ?? 0,
		scale: fields.scale ?? SCALE_NONE,
		scaleValue: fields.scaleValue ?? 1,
	};
}
