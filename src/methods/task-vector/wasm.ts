/**
 * The compiled (WebAssembly) loops of the task-vector kernel, on blocks in this thread's arena (src/wasm/kernels.ts):
 * the loops of loops.ts and scanDareBits' fast loop, computing the same bits. The compiled KernelSet
 * (kernel-set.ts) calls them; each returns undefined (or false) where it has no compiled form for the case, and the
 * caller then runs its TypeScript loop.
 */
import type { WasmArena } from "../../wasm/kernels.js";
import { cutThreshold, segmentEnd } from "./fill.js";
import { ALL_KEYS, type Lane, LOOP_BITS, LOOP_CUTS, LOOP_RANDOM, type Mixer, powerOfTwo, tieOf } from "./lanes.js";
import { KIND_ALL, KIND_BITS, KIND_CUTS, KIND_RANDOM, type ModelPlan } from "./plan.js";
import { NO_LOWER } from "./term.js";

/** Pointer of element i of an arena array. */
const at = (a: Float32Array, i: number) => a.byteOffset + 4 * i;

/** Largest |exponent| of a factor of a power-of-two chain: v·w·r·λ then never leaves float64's normal range. */
const CHAIN_EXPONENT_MAX = 64;

/** Whether v = ±2^e with |e| ≤ CHAIN_EXPONENT_MAX (read from its bits: a logarithm rounds near large powers). */
function smallPowerOfTwo(v: number): boolean {
	return powerOfTwo(v, CHAIN_EXPONENT_MAX);
}

/**
 * c = w·r·λ when all three are small powers of two (then ((v·w)·r)·λ = v·c exactly for every float32 v, and the
 * compiled loops multiply once: see native/kernels.c); undefined otherwise.
 */
export function pow2Chain(w: number, r: number, lambda: number): number | undefined {
	return smallPowerOfTwo(w) && smallPowerOfTwo(r) && smallPowerOfTwo(lambda) ? w * r * lambda : undefined;
}

/**
 * One model's fused emit of positions [from, to) into dst (a separate array), compiled: the number of non-finite
 * results (which the caller recomputes by the definition), or undefined when the loop has no compiled form.
 */
export function emitOneWasm(
	arena: WasmArena,
	L: Lane,
	M: Mixer,
	x: Float32Array,
	b: Float32Array,
	dst: Float32Array,
	from: number,
	to: number,
	shift: number,
	cShift: number,
): number | undefined {
	if (M.loop !== LOOP_CUTS && M.loop !== LOOP_RANDOM && M.loop !== LOOP_BITS) return undefined;
	const { k } = arena;
	const n = to - from;
	const r = M.divisors[0]!;
	const c = M.divide ? undefined : pow2Chain(L.weight, r, M.lambda);
	if (M.loop === LOOP_RANDOM) {
		if (c !== undefined)
			return k.random_one_pow2(
				at(x, from),
				at(b, from),
				at(dst, from),
				n,
				from + cShift,
				L.keyLo,
				L.keyHi,
				L.keyHiMix,
				L.keepLimit,
				L.scaleValue,
				c,
			);
		return k.random_one(
			at(x, from),
			at(b, from),
			at(dst, from),
			n,
			from + cShift,
			L.keyLo,
			L.keyHi,
			L.keyHiMix,
			L.keepLimit,
			L.scaleValue,
			L.weight,
			r,
			M.lambda,
		);
	}
	if (M.loop === LOOP_BITS) {
		const g = from + shift;
		if ((g & 31) !== 0) return undefined;
		arena.words.set(L.bits!.subarray(g >>> 5, (g + n + 31) >>> 5));
		if (c !== undefined) return k.bits_one_pow2(at(x, from), at(b, from), at(dst, from), n, arena.words.byteOffset, L.scaleValue, c);
		return k.bits_one(at(x, from), at(b, from), at(dst, from), n, arena.words.byteOffset, L.scaleValue, L.weight, r, M.lambda);
	}
	const uKey = L.upper?.key ?? ALL_KEYS;
	const uTie = tieOf(L.upper, shift);
	const lKey = L.lower?.key ?? NO_LOWER;
	const lTie = tieOf(L.lower, shift);
	let bad = 0;
	for (let s = from; s < to; ) {
		const e = segmentEnd(s, to, uTie, lTie);
		const tU = cutThreshold(uKey, uTie, s);
		const tL = cutThreshold(lKey, lTie, s);
		if (c === 1 && L.scaleValue === 1) bad += k.cuts_one_unit(at(x, s), at(b, s), at(dst, s), e - s, tU, tL);
		else if (c !== undefined) bad += k.cuts_one_pow2(at(x, s), at(b, s), at(dst, s), e - s, tU, tL, L.scaleValue, c);
		else {
			const args = [at(x, s), at(b, s), at(dst, s), e - s, tU, tL, L.scaleValue, L.weight, r, M.lambda] as const;
			bad += M.divide ? k.cuts_one_div(...args) : k.cuts_one_mul(...args);
		}
		s = e;
	}
	return bad;
}

/**
 * DARE's scan pass (keep bits and both L1 sums) over [from, to), compiled, when the block starts on a word of keep
 * bits: false otherwise, or when the block held a non-finite |δ| (then the sums are left as they were and the
 * caller sums the block by the definition).
 */
export function dareBitsWasm(
	arena: WasmArena,
	p: ModelPlan,
	x: Float32Array,
	b: Float32Array,
	from: number,
	to: number,
	shift: number,
	c0: number,
	hiMix: number,
	limit: number,
): boolean {
	const g = from + shift;
	if ((g & 31) !== 0) return false;
	const n = to - from;
	const sums = arena.sums;
	sums[0] = p.l1Before;
	sums[1] = p.l1After;
	const bad = arena.k.dare_bits(
		at(x, from),
		at(b, from),
		n,
		arena.words.byteOffset,
		from + c0,
		p.key.lo,
		p.key.hi,
		hiMix,
		limit,
		sums.byteOffset,
	);
	if (bad > 0) return false;
	const bits = p.keepBits!;
	const words = arena.words;
	const first = g >>> 5;
	const count = (n + 31) >>> 5;
	for (let w = 0; w < count; w++) bits[first + w] = bits[first + w]! | words[w]!;
	p.l1Before = sums[0]!;
	p.l1After = sums[1]!;
	return true;
}

/**
 * One lane's contributions over [from, to) into `out` (arena memory), compiled; false when the lane's kind has no
 * compiled fill here (or its keep bits do not start on a word), and the caller fills it with the TypeScript loop.
 */
export function fillLaneWasm(
	arena: WasmArena,
	L: Lane,
	x: Float32Array,
	b: Float32Array,
	from: number,
	to: number,
	shift: number,
	cShift: number,
	out: Float64Array,
): boolean {
	const { k } = arena;
	const n = to - from;
	if (L.kind === KIND_RANDOM)
		k.fill_random(
			at(x, from),
			at(b, from),
			n,
			from + cShift,
			L.keyLo,
			L.keyHi,
			L.keyHiMix,
			L.keepLimit,
			L.scaleValue,
			L.weight,
			out.byteOffset,
		);
	else if (L.kind === KIND_ALL) k.fill_all(at(x, from), at(b, from), n, L.weight, out.byteOffset);
	else if (L.kind === KIND_BITS) {
		const g = from + shift;
		if ((g & 31) !== 0) return false;
		arena.words.set(L.bits!.subarray(g >>> 5, (g + n + 31) >>> 5));
		k.fill_bits(at(x, from), at(b, from), n, arena.words.byteOffset, L.scaleValue, L.weight, out.byteOffset);
	} else if (L.kind === KIND_CUTS) {
		const uKey = L.upper?.key ?? ALL_KEYS;
		const uTie = tieOf(L.upper, shift);
		const lKey = L.lower?.key ?? NO_LOWER;
		const lTie = tieOf(L.lower, shift);
		for (let s = from; s < to; ) {
			const e = segmentEnd(s, to, uTie, lTie);
			k.fill_cuts(
				at(x, s),
				at(b, s),
				e - s,
				cutThreshold(uKey, uTie, s),
				cutThreshold(lKey, lTie, s),
				L.scaleValue,
				L.weight,
				out.byteOffset + 8 * (s - from),
			);
			s = e;
		}
	} else return false;
	return true;
}

/** mixTwo compiled: the two contribution buffers of the arena into dst[from, to); the count of non-finite results. */
export function mixTwoWasm(arena: WasmArena, b: Float32Array, dst: Float32Array, from: number, to: number, M: Mixer): number {
	const { k, contrib } = arena;
	const n = to - from;
	const [v0, v1] = [contrib[0].byteOffset, contrib[1].byteOffset];
	if (!M.elect) {
		const sum = M.divide ? k.mix_sum_div : k.mix_sum_mul;
		return sum(at(b, from), at(dst, from), n, v0, v1, M.divisors[3]!, M.lambda);
	}
	arena.table.set(M.divisors);
	const elect = M.divide ? k.mix_elect_div : k.mix_elect_mul;
	return elect(at(b, from), at(dst, from), n, v0, v1, arena.table.byteOffset, M.lambda);
}
