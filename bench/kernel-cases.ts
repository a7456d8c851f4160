/**
 * The kernel bench's inputs and cases, shared by the main thread and its worker threads (each builds its own copy):
 * bf16-valued checkpoint-like arrays, one case per method configuration, and how each case runs in each mode.
 */
import { breadcrumbs, breadcrumbsMethod } from "../src/methods/breadcrumbs.js";
import { chunkedFormOf } from "../src/methods/chunked.js";
import { dare, dareLinearMethod, dareTiesMethod } from "../src/methods/dare.js";
import { della, dellaMethod } from "../src/methods/della.js";
import { linear, linearMethod } from "../src/methods/linear.js";
import { slerp, slerpMethod } from "../src/methods/slerp.js";
import { taskArithmetic, taskArithmeticMethod } from "../src/methods/task-arithmetic.js";
import { ties, tiesMethod } from "../src/methods/ties.js";
import type { MergeContext, MergeInput, MergeMethod } from "../src/methods/types.js";
import { kthLargestAbsThreshold, topKAbsMask } from "../src/tensor/ops.js";
import { counterHash, counterHiMix, rngKey, uniformAt } from "../src/tensor/rng.js";
import { runStreamed } from "./kernel-streamed.js";

/** Density of every sparsifying case: the reference setting. */
const DENSITY = 0.5;
/** Base weights' spread (Mistral's initializer_range) and the fine-tuning deltas' (a tenth of it). */
const BASE_STD = 0.02;
const DELTA_STD = 0.002;

/**
 * How a case runs. "copy": the plain library function (inputs untouched, a new output). "in place": the method with
 * `inPlace`, as the executor calls it for small tensors. "streamed": the method's chunked form over 64 Ki-element
 * blocks, as the executor runs every larger tensor. "raw": a building block.
 */
export type KernelMode = "copy" | "in place" | "streamed" | "raw";

/** The bench inputs: a base and two fine-tunes of it; `delta` (a task vector, for the raw rows) is made on first use. */
export interface BenchTensors {
	base: Float32Array;
	m1: Float32Array;
	m2: Float32Array;
	readonly delta: Float32Array;
}

/** Rounds a float32 bit pattern to bfloat16 (nearest even), as the weights arrive from a bf16 checkpoint. */
function bf16Bits(bits: number): number {
	return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) << 16;
}

/**
 * bf16-valued checkpoint-like data: bell-shaped noise (sum of two uniform draws) around 0 for the base, plus a
 * tenth of that for each model. bf16 values make the task vectors full of exact magnitude ties, as in real merges.
 */
export function benchTensors(n: number): BenchTensors {
	const out = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as const;
	const bits = out.map((a) => new Uint32Array(a.buffer));
	const key = rngKey(1, "kernel-bench", 0);
	const scratch = new Float32Array(1);
	const scratchBits = new Uint32Array(scratch.buffer);
	const bell = (i: number) => (uniformAt(key, 2 * i) + uniformAt(key, 2 * i + 1) - 1) * Math.sqrt(6);
	for (let i = 0; i < n; i++) {
		scratch[0] = BASE_STD * bell(i);
		bits[0]![i] = bf16Bits(scratchBits[0]!);
		for (let m = 1; m < 3; m++) {
			scratch[0] = out[0][i]! + DELTA_STD * bell(m * n + i);
			bits[m]![i] = bf16Bits(scratchBits[0]!);
		}
	}
	let delta: Float32Array | undefined;
	return {
		base: out[0],
		m1: out[1],
		m2: out[2],
		get delta() {
			if (delta === undefined) {
				delta = new Float32Array(n);
				for (let i = 0; i < n; i++) delta[i] = out[1][i]! - out[0][i]!;
			}
			return delta;
		},
	};
}

/** One benchmark case: a method configuration (copy, in place and streamed rows) or a building block (a raw row). */
export interface KernelCase {
	label: string;
	/** Key into MERGEKIT_FIGURES. */
	figure?: string;
	models: number;
	usesBase: boolean;
	copy?: () => unknown;
	method?: { m: MergeMethod; params: Record<string, unknown>; modelParams: Record<string, unknown>[]; shape?: number[] };
	raw?: () => unknown;
}

/**
 * A plain TypeScript lerp on float32 arrays passed as arguments, the reference loop. (Arrays the JIT can
 * see as constants run about 2.5× faster, so the bench never closes over them in a timed loop.)
 */
function lerpInto(a: Float32Array, b: Float32Array, out: Float32Array): Float32Array {
	for (let i = 0; i < out.length; i++) out[i] = 0.5 * a[i]! + 0.5 * b[i]!;
	return out;
}

/** Every case, in a fixed order (workers find a case by its index in this list). */
export function kernelCases(d: BenchTensors, n: number): KernelCase[] {
	const { base, m1, m2 } = d;
	const side = Math.round(Math.sqrt(n));
	const shape = side * side === n ? [side, side] : [n];
	const ctxKey = rngKey(0, "bench", 0);
	const cases: KernelCase[] = [
		{
			label: "slerp",
			figure: "slerp",
			models: 1,
			usesBase: true,
			copy: () => slerp(base, m1, 0.5),
			method: { m: slerpMethod, params: { t: 0.5 }, modelParams: [{}] },
		},
		{
			label: "linear",
			figure: "slerp",
			models: 2,
			usesBase: false,
			copy: () => linear([m1, m2], [0.5, 0.5]),
			method: { m: linearMethod, params: { normalize: true }, modelParams: [{ weight: 0.5 }, { weight: 0.5 }] },
		},
	];
	for (const count of [1, 2]) {
		const models = [m1, m2].slice(0, count);
		const weights = models.map(() => 1 / count);
		const densities = models.map(() => DENSITY);
		const mp = (extra: Record<string, unknown> = {}) => weights.map((weight) => ({ weight, density: DENSITY, ...extra }));
		const taskParams = { normalize: false, rescale: false, lambda: 1, int8_mask: false };
		cases.push(
			{
				label: "task_arithmetic",
				figure: "slerp",
				models: count,
				usesBase: true,
				copy: () => taskArithmetic(base, models, { weights }),
				method: { m: taskArithmeticMethod, params: taskParams, modelParams: mp() },
			},
			{
				label: "ties",
				figure: "ties",
				models: count,
				usesBase: true,
				copy: () => ties(base, models, { weights, densities }),
				method: { m: tiesMethod, params: { ...taskParams, normalize: true }, modelParams: mp() },
			},
		);
		for (const rescale of [true, "inverse_density"] as const) {
			for (const consensus of [true, false]) {
				cases.push({
					label: `${consensus ? "dare_ties" : "dare_linear"} (rescale=${String(rescale)})`,
					figure: "dare",
					models: count,
					usesBase: true,
					copy: () => dare(base, models, { weights, densities, rescale, consensus, seed: 0, tensorName: "bench" }),
					method: { m: consensus ? dareTiesMethod : dareLinearMethod, params: { ...taskParams, rescale }, modelParams: mp() },
				});
			}
		}
		cases.push(
			{
				label: "breadcrumbs",
				figure: "ties",
				models: count,
				usesBase: true,
				copy: () => breadcrumbs(base, models, { weights, densities, gammas: weights.map(() => 0.01) }),
				method: { m: breadcrumbsMethod, params: taskParams, modelParams: mp({ gamma: 0.01 }) },
			},
			{
				label: "della",
				figure: "ties",
				models: count,
				usesBase: true,
				copy: () => della(base, models, { weights, densities, shape, seed: 0, tensorName: "bench" }),
				method: { m: dellaMethod, params: { ...taskParams, normalize: true, rescale: true }, modelParams: mp({ epsilon: 0.15 }), shape },
			},
		);
	}
	let sink = 0;
	const lerpOut = new Float32Array(n);
	cases.push(
		// Calibration: the issue quotes ~450 M el/s for this plain loop on its machine.
		{ label: "reference lerp (plain loop)", models: 1, usesBase: true, raw: () => lerpInto(base, m1, lerpOut) },
		{
			label: "uniformAt draws",
			models: 0,
			usesBase: false,
			raw: () => {
				for (let i = 0; i < n; i++) sink += uniformAt(ctxKey, i);
				return sink;
			},
		},
		{
			// The draw the DARE kernels inline for counters below 2^32 (same values as uniformAt there).
			label: "counterHash draws (inline in DARE)",
			models: 0,
			usesBase: false,
			raw: () => hashDraws(n, ctxKey.lo, ctxKey.hi, counterHiMix(ctxKey)),
		},
		{ label: "kthLargestAbsThreshold", models: 0, usesBase: false, raw: () => kthLargestAbsThreshold(d.delta, n >>> 1) },
		{ label: "topKAbsMask", models: 0, usesBase: false, raw: () => topKAbsMask(d.delta, n >>> 1) },
	);
	return cases;
}

/** The modes a case has rows for, in table order. */
export function modesOf(c: KernelCase): KernelMode[] {
	const modes: KernelMode[] = [];
	if (c.raw !== undefined) modes.push("raw");
	if (c.copy !== undefined) modes.push("copy");
	if (c.method !== undefined) modes.push("in place", "streamed");
	return modes;
}

/** What a timed run needs besides the case: the data and lazily made full-size scratch arrays. */
export class CaseEnv {
	readonly ctx: MergeContext = { seed: 0, rngKey: (m, p = 0) => rngKey(0, "bench", m, p), warn: () => {} };
	private scratchArrays: Float32Array[] | undefined;
	private outArray: Float32Array | undefined;

	constructor(
		readonly data: BenchTensors,
		readonly n: number,
	) {}

	/** Three arrays the in-place mode copies the inputs into before each run (the kernel may overwrite them). */
	get scratch(): Float32Array[] {
		this.scratchArrays ??= [new Float32Array(this.n), new Float32Array(this.n), new Float32Array(this.n)];
		return this.scratchArrays;
	}

	/** The streamed mode's whole-tensor output. */
	get out(): Float32Array {
		this.outArray ??= new Float32Array(this.n);
		return this.outArray;
	}
}

/** A timed body and what must run untimed before it. */
export interface ModeRun {
	run: () => unknown;
	prepare?: () => void;
}

/** How `c` runs in `mode`, or undefined when it has no such form (e.g. DELLA has no chunked form). */
export function modeRun(c: KernelCase, mode: KernelMode, env: CaseEnv): ModeRun | undefined {
	if (mode === "raw") return c.raw !== undefined ? { run: c.raw } : undefined;
	if (mode === "copy") return c.copy !== undefined ? { run: c.copy } : undefined;
	const spec = c.method;
	if (spec === undefined) return undefined;
	const { data, n, ctx } = env;
	const sources = c.usesBase ? [data.base, data.m1, data.m2].slice(0, c.models + 1) : [data.m1, data.m2].slice(0, c.models);
	const shape = spec.shape ?? [n];
	if (mode === "streamed") {
		const form = chunkedFormOf(spec.m, spec.params, spec.modelParams);
		if (form === undefined) return undefined;
		const out = env.out;
		const tensor = {
			tensorName: "bench",
			shape,
			params: spec.params,
			modelParams: spec.modelParams,
			base: c.usesBase ? sources[0] : undefined,
			models: c.usesBase ? sources.slice(1) : sources,
		};
		return { run: () => runStreamed(form, tensor, ctx, out) };
	}
	const scratch = env.scratch;
	const input: MergeInput<Record<string, unknown>, Record<string, unknown>> = {
		tensorName: "bench",
		shape,
		base: c.usesBase ? scratch[0] : undefined,
		models: c.usesBase ? scratch.slice(1, c.models + 1) : scratch.slice(0, c.models),
		params: spec.params,
		modelParams: spec.modelParams,
		inPlace: true,
	};
	return {
		run: () => spec.m.merge(input, ctx),
		prepare: () => {
			for (const [i, s] of sources.entries()) scratch[i]!.set(s);
		},
	};
}

/** Sums the top bit of n inline hash draws (a loop over arguments, so the JIT cannot fold the key). */
function hashDraws(n: number, lo: number, hi: number, mix: number): number {
	let s = 0;
	for (let i = 0; i < n; i++) s += counterHash(i, lo, hi, mix) >>> 31;
	return s;
}
