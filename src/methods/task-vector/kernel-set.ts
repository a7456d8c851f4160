/**
 * Which loops run for one job of the task-vector engine, chosen once per job and nowhere else:
 *
 * | set        | when                                                        | the loops                           |
 * |------------|-------------------------------------------------------------|-------------------------------------|
 * | compiled   | the job's blocks lie in this thread's WebAssembly arena     | native/kernels.c, through wasm.ts   |
 * | typescript | otherwise: no arena (`LM_MERGE_WASM=0`, no SIMD), or blocks | loops.ts, scan.ts (also the oracle  |
 * |            | elsewhere (more inputs than the arena's slots, in place)    | test/wasm checks the compiled ones) |
 *
 * Blocks are in the arena when the executor decoded them there (exec/chunked-job.ts) or runWhole copied them in
 * (kernel.ts). Even the compiled set leaves some cases to the TypeScript loops: a loop without a compiled form (one
 * model keeping everything, the generic combine), keep bits of a block that does not start on a word, a DARE block
 * holding a non-finite |δ|. Its entries then return undefined (or false) and the caller runs the TypeScript twin,
 * which computes the same bits. Placement is the caller's promise: with LM_MERGE_DEBUG=1 every compiled call checks
 * that its arrays are in the arena.
 */
import { DEBUG_ASSERTS, debugAssert } from "../../debug-assert.js";
import { ARENA_INPUTS, ARENA_SUB_BLOCK, arenaOf, type WasmArena } from "../../wasm/kernels.js";
import type { Lane, Mixer } from "./lanes.js";
import type { ModelPlan } from "./plan.js";
import { dareBitsWasm, emitOneWasm, fillLaneWasm, mixTwoWasm } from "./wasm.js";

/** The loops of one job (see the table above); each entry's `undefined` / `false` means "run the TypeScript twin". */
export interface KernelSet {
	readonly compiled: boolean;
	/** Where emit writes a block of n results for the compiled loops (the arena's output slot); undefined: anywhere. */
	outputBlock(n: number): Float32Array | undefined;
	/** Two models: each model's contributions of one sub-block (ARENA_SUB_BLOCK positions, float64). */
	readonly contributions: readonly [Float64Array, Float64Array];
	/** One model's fused emit into a separate dst: the count of non-finite results. */
	emitOne(
		L: Lane,
		M: Mixer,
		x: Float32Array,
		b: Float32Array,
		dst: Float32Array,
		from: number,
		to: number,
		shift: number,
		cShift: number,
	): number | undefined;
	/** DARE with the L1 rescale, scan pass 0 (keep bits and both norms); true when done. */
	dareBits(
		p: ModelPlan,
		x: Float32Array,
		b: Float32Array,
		from: number,
		to: number,
		shift: number,
		c0: number,
		hiMix: number,
		limit: number,
	): boolean;
	/** One lane's contributions over [from, to) into `out` (this set's contributions); true when done. */
	fillLane(L: Lane, x: Float32Array, b: Float32Array, from: number, to: number, shift: number, cShift: number, out: Float64Array): boolean;
	/** The two-model mix of this set's contributions into dst[from, to): the count of non-finite results. */
	mixTwo(b: Float32Array, dst: Float32Array, from: number, to: number, M: Mixer): number | undefined;
}

/** The TypeScript loops only (every entry defers to its caller's twin). */
export const TYPESCRIPT_KERNELS: KernelSet = {
	compiled: false,
	outputBlock: () => undefined,
	contributions: [new Float64Array(ARENA_SUB_BLOCK), new Float64Array(ARENA_SUB_BLOCK)],
	emitOne: () => undefined,
	dareBits: () => false,
	fillLane: () => false,
	mixTwo: () => undefined,
};

/** LM_MERGE_DEBUG=1 (debug-assert.ts): the compiled set checks every array's placement. */
const CHECK_PLACEMENT = DEBUG_ASSERTS;

function placed(arena: WasmArena, ...arrays: ArrayBufferView[]): void {
	for (const a of arrays) debugAssert(arena.holds(a), "task-vector kernels: a compiled loop got an array outside the WebAssembly arena");
}

/** The compiled loops on `arena`'s memory. */
function compiledKernels(arena: WasmArena): KernelSet {
	return {
		compiled: true,
		outputBlock: (n) => arena.slots[ARENA_INPUTS]!.subarray(0, n),
		contributions: arena.contrib,
		emitOne(L, M, x, b, dst, from, to, shift, cShift) {
			if (CHECK_PLACEMENT) placed(arena, x, b, dst);
			return emitOneWasm(arena, L, M, x, b, dst, from, to, shift, cShift);
		},
		dareBits(p, x, b, from, to, shift, c0, hiMix, limit) {
			if (CHECK_PLACEMENT) placed(arena, x, b);
			return dareBitsWasm(arena, p, x, b, from, to, shift, c0, hiMix, limit);
		},
		fillLane(L, x, b, from, to, shift, cShift, out) {
			if (CHECK_PLACEMENT) placed(arena, x, b, out);
			return fillLaneWasm(arena, L, x, b, from, to, shift, cShift, out);
		},
		mixTwo(b, dst, from, to, M) {
			if (CHECK_PLACEMENT) placed(arena, b, dst);
			return mixTwoWasm(arena, b, dst, from, to, M);
		},
	};
}

/** One compiled set per arena (a thread has one), built on first use. */
const compiledSets = new WeakMap<WasmArena, KernelSet>();

/**
 * The set for a job whose blocks are `arrays` (the base and the models of its first block): compiled when they all
 * lie in this thread's arena (which exists unless LM_MERGE_WASM=0 or WebAssembly SIMD is missing), else TypeScript.
 */
export function kernelSetFor(arrays: readonly Float32Array[]): KernelSet {
	const arena = arenaOf(...arrays);
	if (arena === undefined) return TYPESCRIPT_KERNELS;
	let set = compiledSets.get(arena);
	if (set === undefined) {
		set = compiledKernels(arena);
		compiledSets.set(arena, set);
	}
	return set;
}
