/**
 * The task-vector kernel over a tensor seen block by block: scan passes gather what the sparsifiers need from the
 * whole task vector δ = f32(x − b) (rank cuts, L1 norms, DARE keep bits), then emit combines block by block. The
 * chunked form (chunked.ts) feeds it the executor's blocks; mergeTaskVectors feeds it blocks of whole
 * arrays, so both compute the same bits.
 *
 * Passes, for the rank sparsifiers (TIES, Breadcrumbs): 0 = each model's key sample, 1 = the bracket pass (and
 * ‖δ‖₁ for the L1 rescale), then, only for the L1 rescale, the kept-norm pass. A bracket that misses adds the radix
 * passes (TOP, MID, LOW, TIES) for that cut. DARE with the L1 rescale needs pass 0 only (norms and keep bits); other
 * variants none. `scanPasses` starts at the most that may be needed and shrinks as passes complete.
 */
import { MethodError } from "../../errors.js";
import { HISTOGRAM_COPIES, mergeCopies, TOP_DIGIT_BUCKETS } from "../../tensor/radix-select.js";
import { ARENA_BLOCK, ARENA_INPUTS, type WasmArena, wasmArena } from "../../wasm/kernels.js";
import { type CombineOptions, combineScratch } from "./combine.js";
import { emitFused, emitGeneric } from "./emit.js";
import { type KernelSet, kernelSetFor } from "./kernel-set.js";
import { fusedMixer, type Lane, laneOf, type Mixer, mixerOf } from "./lanes.js";
import { cutsDone, finishScale, KIND_BITS, KIND_CUTS, type ModelPlan } from "./plan.js";
import { type RankCutSearch, STAGE_BRACKET, STAGE_SAMPLE, STAGE_TOP } from "./rank-cut-search.js";
import { countTopDigits, deltaKeys, scanDareBits, scanKeptL1, scanL1Before } from "./scan.js";
import type { SparsifyWhere } from "./types.js";

/** The kernel of one tensor of n elements; random counters are global index + streamShift. */
export class TaskVectorKernel {
	/** Passes completed so far, and elements seen in the current one. */
	private done = 0;
	private covered = 0;
	private bound: number;
	private lanes: Lane[] | undefined;
	private mixer: Mixer | undefined;
	private combineBuffer: Float64Array | undefined;
	/** δ of one block, for the radix route's integer keys; one block's results before they overwrite the base. */
	private keyScratch = new Float32Array(0);
	private emitScratch = new Float32Array(0);
	/** Per model: whether the current pass is its kept-norm pass (decided when the pass starts). */
	private keptPass: boolean[];
	/** Which loops run (compiled or TypeScript), picked from the first block this job sees. */
	private kernels: KernelSet | undefined;

	constructor(
		private readonly plans: readonly ModelPlan[],
		private readonly combine: CombineOptions,
		private readonly where: SparsifyWhere,
		private readonly n: number,
		private readonly streamShift: number,
	) {
		this.keptPass = plans.map(() => false);
		this.bound = this.passesLeft();
	}

	/** Scan passes: those completed plus an upper bound on those still needed (never grows). */
	get scanPasses(): number {
		return this.bound;
	}

	private cuts(p: ModelPlan): RankCutSearch[] {
		return p.lower === undefined ? [p.upper!] : [p.upper!, p.lower];
	}

	/** Upper bound on the passes still needed by any model. */
	private passesLeft(): number {
		let left = 0;
		for (const p of this.plans) {
			if (p.kind === KIND_BITS && this.done === 0) left = Math.max(left, 1);
			if (p.kind !== KIND_CUTS) continue;
			const search = Math.max(...this.cuts(p).map((c) => c.passesLeft));
			left = Math.max(left, search + (p.rescale === true && !p.keptDone ? 1 : 0));
		}
		return this.done + left;
	}

	/**
	 * The job's kernel set, picked once, from where the first block's arrays lie (all blocks of a job lie alike: the
	 * executor's in its arena or none, runWhole's copied into it or not).
	 */
	kernelsFor(xs: readonly Float32Array[], b: Float32Array): KernelSet {
		this.kernels ??= kernelSetFor([b, ...xs]);
		return this.kernels;
	}

	private fail(why: string): never {
		throw new MethodError("InvalidInput", this.where.method, `tensor "${this.where.tensorName}": ${why}`);
	}

	/**
	 * Scan pass `pass` over elements [from, to) of the model arrays and the base, whose element 0 has global index
	 * `shift`. Blocks of a pass must cover the tensor once, in index order.
	 */
	scanRange(pass: number, xs: readonly Float32Array[], b: Float32Array, from: number, to: number, shift: number): void {
		if (pass !== this.done || pass >= this.bound)
			this.fail(`scan pass ${pass} out of order (expected pass ${this.done} of at most ${this.bound})`);
		const kernels = this.kernelsFor(xs, b);
		for (let m = 0; m < this.plans.length; m++) {
			const p = this.plans[m]!;
			const x = xs[m]!;
			if (p.kind === KIND_BITS && pass === 0) scanDareBits(p, x, b, from, to, shift, this.streamShift, kernels);
			if (p.kind === KIND_CUTS) this.scanCuts(m, p, pass, x, b, from, to, shift);
		}
		this.covered += to - from;
		if (this.covered >= this.n) this.endPass();
	}

	private scanCuts(m: number, p: ModelPlan, pass: number, x: Float32Array, b: Float32Array, from: number, to: number, shift: number): void {
		const cuts = this.cuts(p);
		if (this.keptPass[m]) {
			for (const c of cuts) if (!c.locateTie(x, b, from, to, shift)) this.fail("blocks out of order");
			scanKeptL1(p, x, b, from, to, shift);
			return;
		}
		if (pass === 1 && p.rescale === true) scanL1Before(p, x, b, from, to);
		if (cuts[0]!.stage === STAGE_SAMPLE) p.sample!.collect(x, b, from, to, shift);
		for (const c of cuts) if (c.stage === STAGE_BRACKET) c.scanBracket(x, b, from, to, shift);
		if (!cuts.some((c) => c.wantsKeys)) return;
		if (this.keyScratch.length < to - from) this.keyScratch = new Float32Array(to - from);
		const keys = deltaKeys(x, b, from, to, this.keyScratch);
		if (cuts.some((c) => c.stage === STAGE_TOP)) {
			p.top ??= new Uint32Array(HISTOGRAM_COPIES * TOP_DIGIT_BUCKETS);
			countTopDigits(keys, p.top);
		}
		for (const c of cuts) if (c.stage !== STAGE_TOP) c.scanKeys(keys, 0, to - from, shift + from);
	}

	/** Folds the pass that just covered the tensor into the plans and shrinks the pass bound. */
	private endPass(): void {
		const pass = this.done;
		for (let m = 0; m < this.plans.length; m++) {
			const p = this.plans[m]!;
			if (p.kind !== KIND_CUTS) continue;
			if (this.keptPass[m]) {
				p.keptDone = true;
				this.keptPass[m] = false;
				continue;
			}
			const cuts = this.cuts(p);
			const top = p.top !== undefined ? mergeCopies(p.top, TOP_DIGIT_BUCKETS) : undefined;
			for (const c of cuts) {
				if (pass === 0) c.planBracket(p.sample!);
				else if (!c.finishPass(top)) this.fail("the chunks changed between scan passes (rank cut not found)");
			}
			p.top = undefined;
			// A cut may finish during its pass (TIES); the kept-norm pass starts with the next whole pass.
			this.keptPass[m] = p.rescale === true && !p.keptDone && cutsDone(p);
		}
		this.done++;
		this.covered = 0;
		this.bound = Math.min(this.bound, this.passesLeft());
	}

	/** Emits elements [from, to) into `out` (which may be `b`); blocks come in index order after every scan pass. */
	emitRange(xs: readonly Float32Array[], b: Float32Array, out: Float32Array, from: number, to: number, shift: number): void {
		if (this.done < this.bound) this.fail(`emit before scan pass ${this.done} of ${this.bound}`);
		if (this.lanes === undefined) {
			for (const p of this.plans) finishScale(p);
			this.lanes = this.plans.map((p) => laneOf(p, this.streamShift, this.n));
			this.mixer = mixerOf(this.lanes, this.combine);
		}
		for (let m = 0; m < this.plans.length; m++) {
			const p = this.plans[m]!;
			if (p.kind !== KIND_CUTS) continue;
			for (const c of this.cuts(p)) if (!c.locateTie(xs[m]!, b, from, to, shift)) this.fail("blocks out of order");
		}
		if (fusedMixer(this.mixer!)) {
			if (out === b && this.emitScratch.length < to - from) this.emitScratch = new Float32Array(to - from);
			emitFused(this.kernelsFor(xs, b), this.lanes, this.mixer!, xs, b, out, from, to, shift, this.streamShift, this.emitScratch);
		} else {
			this.combineBuffer ??= combineScratch(this.plans.length);
			emitGeneric(this.lanes, this.mixer!, xs, b, out, from, to, shift, this.streamShift, this.combineBuffer);
		}
	}
}

/** Blocks of this many elements when a whole tensor runs through the kernel (cache-sized, like the executor's). */
const WHOLE_BLOCK = 1 << 16;

/**
 * Runs every scan pass and the emit over whole arrays (mergeTaskVectors' path); returns `out`. With this thread's
 * WebAssembly arena (and at most ARENA_INPUTS inputs), each block is copied into its slots first, so the compiled
 * loops run, as on the executor's streamed blocks (a copy costs far less than the loops it speeds up).
 */
export function runWhole(kernel: TaskVectorKernel, xs: readonly Float32Array[], b: Float32Array, out: Float32Array): Float32Array {
	const n = b.length;
	if (n === 0) return out;
	const arena = xs.length + 1 <= ARENA_INPUTS && WHOLE_BLOCK <= ARENA_BLOCK ? wasmArena() : undefined;
	if (arena !== undefined) return runInArena(kernel, arena, xs, b, out);
	for (let pass = 0; pass < kernel.scanPasses; pass++) {
		for (let from = 0; from < n; from += WHOLE_BLOCK) kernel.scanRange(pass, xs, b, from, Math.min(n, from + WHOLE_BLOCK), 0);
	}
	for (let from = 0; from < n; from += WHOLE_BLOCK) kernel.emitRange(xs, b, out, from, Math.min(n, from + WHOLE_BLOCK), 0);
	return out;
}

/** runWhole's blocks copied into the arena: base in slot 0, model m in slot m + 1, results from the output slot. */
function runInArena(
	kernel: TaskVectorKernel,
	arena: WasmArena,
	xs: readonly Float32Array[],
	b: Float32Array,
	out: Float32Array,
): Float32Array {
	const n = b.length;
	const place = (src: Float32Array, slot: number, from: number, to: number) => {
		const view = arena.slots[slot]!.subarray(0, to - from);
		view.set(src.subarray(from, to));
		return view;
	};
	const block = (from: number, to: number): [Float32Array[], Float32Array] => [
		xs.map((x, m) => place(x, m + 1, from, to)),
		place(b, 0, from, to),
	];
	for (let pass = 0; pass < kernel.scanPasses; pass++) {
		for (let from = 0; from < n; from += WHOLE_BLOCK) {
			const to = Math.min(n, from + WHOLE_BLOCK);
			const [bx, bb] = block(from, to);
			kernel.scanRange(pass, bx, bb, 0, to - from, from);
		}
	}
	for (let from = 0; from < n; from += WHOLE_BLOCK) {
		const to = Math.min(n, from + WHOLE_BLOCK);
		const [bx, bb] = block(from, to);
		const result = arena.slots[ARENA_INPUTS]!.subarray(0, to - from);
		kernel.emitRange(bx, bb, result, 0, to - from, from);
		out.set(result, from);
	}
	return out;
}
