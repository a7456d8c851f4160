/**
 * The chunked form of the task-vector kernel against the whole-tensor kernel: scan passes, then emit, over chunks
 * of 1024 and 3072 elements of ~10k-element tensors (bf16-rounded values: many equal magnitudes, zeros, NaNs), must
 * give the same float32 bits as `method.merge` on the whole arrays.
 */
import { describe, expect, test } from "vitest";
import { breadcrumbsMethod, breadcrumbsTiesMethod } from "../../../src/methods/breadcrumbs.js";
import { CHUNK_ALIGN, chunkedFormOf } from "../../../src/methods/chunked.js";
import { dareLinearMethod, dareTiesMethod } from "../../../src/methods/dare.js";
import { dellaMethod } from "../../../src/methods/della.js";
import { taskArithmeticMethod } from "../../../src/methods/task-arithmetic.js";
import type { TaskParamValues } from "../../../src/methods/task-vector/params.js";
import { outlierRankRange } from "../../../src/methods/task-vector/sparsify.js";
import { tiesMethod } from "../../../src/methods/ties.js";
import type { MergeMethod } from "../../../src/methods/types.js";
import { ABS_MASK, absRankCut, bitsOf } from "../../../src/tensor/radix-select.js";
import { rngKey, uniformAt } from "../../../src/tensor/rng.js";
import { wasmArena } from "../../../src/wasm/kernels.js";
import { mergeContext } from "../../helpers/context.js";
import { kindOf } from "../../helpers/errors.js";

const NAME = "model.layers.0.mlp.up_proj.weight";
const N = 10_000;
const ctx = mergeContext(7, NAME);

/** Rounds to bfloat16 (round to nearest even on the upper 16 bits), as checkpoints store their weights. */
function bf16(v: number): number {
	const f = new Float32Array([v]);
	const u = new Uint32Array(f.buffer);
	u[0] = (u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) & 0xffff0000;
	return f[0]!;
}

/** A base and `count` fine-tunes: 10% unchanged (δ = 0), 30% moved by multiples of 1/256, the rest by noise. */
function dataset(count: number, nasty: boolean): { base: Float32Array; models: Float32Array[] } {
	const u = (stream: number, i: number) => uniformAt(rngKey(3, "data", stream), i);
	const base = new Float32Array(N).map((_, i) => bf16((u(0, i) - 0.5) * 0.1));
	const models = Array.from({ length: count }, (_, m) =>
		new Float32Array(N).map((_, i) => {
			const r = u(1 + m, i);
			if (r < 0.1) return base[i]!;
			if (r < 0.4) return bf16(base[i]! + Math.round((u(10 + m, i) - 0.5) * 8) / 256);
			return bf16(base[i]! + (u(10 + m, i) - 0.5) * 0.02);
		}),
	);
	if (nasty) {
		base[777] = Number.NaN;
		models[0]![17] = Number.NaN;
		models[count - 1]![5003] = Number.NaN;
	}
	return { base, models };
}

const DATA = {
	clean1: dataset(1, false),
	clean2: dataset(2, false),
	clean3: dataset(3, false),
	nasty1: dataset(1, true),
	nasty2: dataset(2, true),
	nasty3: dataset(3, true),
};
type DataName = keyof typeof DATA;

/** Scan passes the last runChunked call ran (the executor re-reads scanPasses before each pass, as here). */
let passesRun = 0;

/** Drives a method's chunked form by hand, like the executor: every scan pass over fresh chunks, then emit. */
function runChunked(
	method: MergeMethod,
	params: TaskParamValues,
	mps: TaskParamValues[],
	data: DataName,
	step: number,
	inArena = false,
): Float32Array {
	const { base, models } = DATA[data];
	const form = chunkedFormOf(method, params, mps);
	expect(form).toBe(method.chunked);
	const kernel = form!.create({ tensorName: NAME, shape: [N], numel: N, params, modelParams: mps, models: models.length }, ctx);
	const arena = inArena ? wasmArena() : undefined;
	if (inArena) expect(arena).toBeDefined();
	// In the arena (as the executor places its blocks), the compiled loops run; elsewhere the TypeScript ones.
	const place = (src: Float32Array, slot: number) => {
		if (arena === undefined) return src;
		const view = arena.slots[slot]!.subarray(0, src.length);
		view.set(src);
		return view;
	};
	const chunkAt = (offset: number) => {
		const end = Math.min(N, offset + step);
		return { offset, base: place(base.slice(offset, end), 0), models: models.map((x, m) => place(x.slice(offset, end), 1 + m)) };
	};
	let pass = 0;
	for (; pass < kernel.scanPasses; pass++) {
		for (let offset = 0; offset < N; offset += step) kernel.scan(pass, chunkAt(offset));
	}
	passesRun = pass;
	const out = new Float32Array(N);
	for (let offset = 0; offset < N; offset += step) out.set(kernel.emit(chunkAt(offset)), offset);
	return out;
}

function runWhole(method: MergeMethod, params: TaskParamValues, mps: TaskParamValues[], data: DataName): Float32Array {
	const { base, models } = DATA[data];
	return method.merge({ tensorName: NAME, shape: [N], base, models, params, modelParams: mps }, ctx);
}

/** Positions where the two outputs' bit patterns differ (empty when bit-identical). */
function differences(a: Float32Array, b: Float32Array): number[] {
	const x = bitsOf(a);
	const y = bitsOf(b);
	const out: number[] = [];
	for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) out.push(i);
	return out;
}

/**
 * One case: a method, its global params and per-model params for 1 and 3 models; `passes` is the initial (worst
 * case) scanPasses, `run` the fewest passes (rank cuts: the sample and the bracket pass, plus the kept-norm pass with
 * the L1 rescale).
 */
interface Case {
	name: string;
	method: MergeMethod;
	params: TaskParamValues;
	models: TaskParamValues[];
	passes: number;
	run: number;
}

/** Worst-case passes of the rank sparsifiers: sample, bracket, the 4 radix passes (+ the kept norm). */
const RANK_PASSES = 6;

const W3 = [1, -0.5, 0.7];
const perModel = (count: number, fields: (m: number) => TaskParamValues) => Array.from({ length: count }, (_, m) => fields(m));

const CASES: Case[] = [
	...[0.3, 0.5, 1].flatMap((density) =>
		[1, 2, 3].flatMap((count) =>
			[
				{ normalize: true, rescale: false, lambda: 1 },
				{ normalize: false, rescale: false, lambda: 0.6 },
				{ normalize: true, rescale: true, lambda: 1.3 },
			].map((params) => ({
				name: `ties d=${density} ×${count} ${JSON.stringify(params)}`,
				method: tiesMethod,
				params,
				models: perModel(count, (m) => ({ weight: count === 1 ? 0.8 : W3[m]!, density: density === 1 ? 1 : density + 0.1 * m })),
				passes: density === 1 ? 0 : RANK_PASSES + (params.rescale ? 1 : 0),
				run: density === 1 ? 0 : 2 + (params.rescale ? 1 : 0),
			})),
		),
	),
	...[
		{ density: 0.37, gamma: 0.01 },
		{ density: 0.9, gamma: 0.05 },
		{ density: 0.5, gamma: 0.00005 }, // γ·N < 1: nothing dropped from the top (no lower cut)
		{ density: 0.5, gamma: 0.7 }, // n_bot < 0: the top absorbs it
		{ density: 0.123, gamma: 0.0333 },
	].flatMap(({ density, gamma }) =>
		[breadcrumbsMethod, breadcrumbsTiesMethod].flatMap((method) =>
			[1, 2, 3].flatMap((count) =>
				[false, true].map((rescale) => ({
					name: `${method.name} d=${density} γ=${gamma} ×${count} rescale=${rescale}`,
					method,
					params: { normalize: count === 3, rescale, lambda: 1 },
					models: perModel(count, (m) => ({ weight: count === 1 ? 1 : W3[m]!, density, gamma })),
					passes: RANK_PASSES + (rescale ? 1 : 0),
					run: 2 + (rescale ? 1 : 0),
				})),
			),
		),
	),
	...[dareTiesMethod, dareLinearMethod].flatMap((method) =>
		[1, 2, 3].flatMap((count) =>
			[true, false, "inverse_density"].map((rescale) => ({
				name: `${method.name} ×${count} rescale=${String(rescale)}`,
				method,
				params: { normalize: false, rescale, lambda: 1 },
				models: perModel(count, (m) => ({ weight: count === 1 ? 0.9 : W3[m]!, density: [0.3, 0.55, 1][m]! })),
				passes: rescale === true ? 1 : 0,
				run: rescale === true ? 1 : 0,
			})),
		),
	),
	...[1, 2, 3].map((count) => ({
		name: `task_arithmetic ×${count}`,
		method: taskArithmeticMethod,
		params: { normalize: count === 3, lambda: 0.8 },
		models: perModel(count, (m) => ({ weight: count === 1 ? 0.5 : W3[m]! })),
		passes: 0,
		run: 0,
	})),
];

describe("taskVectorChunked: bit-identical to the whole-tensor kernel", () => {
	for (const step of [CHUNK_ALIGN, 3 * CHUNK_ALIGN]) {
		test.each(CASES)(`chunks of ${step}: $name`, ({ method, params, models, passes, run }) => {
			const data = (clean: boolean): DataName => `${clean ? "clean" : "nasty"}${models.length}` as DataName;
			for (const clean of [true, false]) {
				const whole = runWhole(method, params, models, data(clean));
				expect(differences(runChunked(method, params, models, data(clean), step), whole)).toEqual([]);
				expect(differences(runChunked(method, params, models, data(clean), step, true), whole)).toEqual([]);
				// Small tensors mean small samples and wide brackets: some cuts take the radix passes.
				expect(passesRun).toBeGreaterThanOrEqual(run);
				expect(passesRun).toBeLessThanOrEqual(passes);
			}
			const kernel = method.chunked!.create(
				{ tensorName: NAME, shape: [N], numel: N, params, modelParams: models, models: models.length },
				ctx,
			);
			expect(kernel.scanPasses).toBe(passes);
		});
	}
});

describe("taskVectorChunked: pass counts on a large tensor", () => {
	test("rank cuts need the sample and the bracket pass (and the kept-norm pass with the L1 rescale)", () => {
		const n = 1 << 18;
		const u = (stream: number, i: number) => uniformAt(rngKey(8, "large", stream), i);
		const base = new Float32Array(n).map((_, i) => bf16((u(0, i) - 0.5) * 0.04));
		const model = new Float32Array(n).map((_, i) => bf16(base[i]! + (u(1, i) - 0.5) * 0.004));
		const cases: [MergeMethod, TaskParamValues, TaskParamValues, number][] = [
			[tiesMethod, { normalize: true, rescale: false }, { weight: 1, density: 0.5 }, 2],
			[tiesMethod, { normalize: true, rescale: true }, { weight: 1, density: 0.2 }, 3],
			[breadcrumbsMethod, { rescale: false }, { weight: 1, density: 0.5, gamma: 0.01 }, 2],
		];
		for (const [method, params, mp, expected] of cases) {
			const kernel = method.chunked!.create({ tensorName: NAME, shape: [n], numel: n, params, modelParams: [mp], models: 1 }, ctx);
			const bounds: number[] = [];
			let pass = 0;
			for (; pass < kernel.scanPasses; pass++) {
				bounds.push(kernel.scanPasses);
				for (let offset = 0; offset < n; offset += 65536) {
					kernel.scan(pass, { offset, base: base.slice(offset, offset + 65536), models: [model.slice(offset, offset + 65536)] });
				}
			}
			expect(pass).toBe(expected);
			// The bound starts at the worst case and only shrinks.
			expect(bounds[0]).toBe(RANK_PASSES + expected - 2);
			expect(bounds).toEqual([...bounds].sort((a, b) => b - a));
		}
	});
});

describe("taskVectorChunked: the data exercises every step of the rank search", () => {
	test("some cuts take only part of their tied keys (the tie-end pass does work)", () => {
		const { base, models } = DATA.clean1;
		const delta = new Float32Array(N).map((_, i) => models[0]![i]! - base[i]!);
		const bits = bitsOf(delta);
		const partial = [0.3, 0.5, 0.37, 0.123].filter((density) => {
			const { hi } = outlierRankRange(N, density, 0);
			const cut = absRankCut(bits, hi);
			const equal = bits.filter((b) => (b & ABS_MASK) === cut.key).length;
			return cut.takeEqual < equal;
		});
		expect(partial.length).toBeGreaterThan(0);
	});
});

describe("taskVectorChunked: support and errors", () => {
	const ties = { normalize: true, rescale: false, lambda: 1 };
	const create = (method: MergeMethod, params: TaskParamValues, mps: TaskParamValues[]) => () =>
		method.chunked!.create({ tensorName: NAME, shape: [N], numel: N, params, modelParams: mps, models: mps.length }, ctx);
	test("DELLA (row-wise ranks) has no chunked form; the other variants do", () => {
		expect(dellaMethod.chunked?.supports({}, [{ weight: 1, density: 0.5 }]) ?? false).toBe(false);
		expect(
			chunkedFormOf(dellaMethod, { normalize: true, rescale: true, lambda: 1 }, [{ weight: 1, density: 0.5, epsilon: 0.1 }]),
		).toBeUndefined();
		for (const m of [tiesMethod, breadcrumbsMethod, breadcrumbsTiesMethod, dareTiesMethod, dareLinearMethod, taskArithmeticMethod]) {
			expect(m.chunked?.supports({}, [{ weight: 1, density: 0.5 }])).toBe(true);
		}
	});
	test("a density keeping no element, a NaN weight or a bad rescale throw from create()", () => {
		expect(kindOf(create(tiesMethod, ties, [{ weight: 1, density: 0.00005 }]))).toBe("InvalidParameter");
		expect(kindOf(create(tiesMethod, ties, [{ weight: Number.NaN, density: 0.5 }]))).toBe("InvalidParameter");
		expect(kindOf(create(tiesMethod, ties, [{ density: 0.5 }]))).toBe("InvalidParameter");
		expect(kindOf(create(dareTiesMethod, { rescale: "sometimes" }, [{ weight: 1, density: 0.5 }]))).toBe("InvalidParameter");
		expect(
			kindOf(
				create(tiesMethod, ties, [
					{ weight: 1, density: 0.5 },
					{ weight: 1, density: Number.NaN },
				]),
			),
		).toBe("InvalidParameter");
	});
	test("the same errors as the whole-tensor kernel", () => {
		const { base, models } = DATA.clean1;
		const whole = () =>
			tiesMethod.merge({ tensorName: NAME, shape: [N], base, models, params: ties, modelParams: [{ weight: 1, density: 0.00005 }] }, ctx);
		expect(kindOf(whole)).toBe("InvalidParameter");
	});
	test("a chunk without the base, or with a short model chunk, is InvalidInput", () => {
		const kernel = create(taskArithmeticMethod, { lambda: 1 }, [{ weight: 1 }])();
		const x = new Float32Array(CHUNK_ALIGN);
		expect(kindOf(() => kernel.emit({ offset: 0, base: undefined, models: [x] }))).toBe("InvalidInput");
		expect(kindOf(() => kernel.emit({ offset: 0, base: x, models: [x.subarray(1)] }))).toBe("InvalidInput");
	});
	test("passes out of order, an emit before the scans, or emit blocks skipping a pending tie are InvalidInput", () => {
		const { base, models } = DATA.clean1;
		const chunk = (offset: number, len: number) => ({
			offset,
			base: base.slice(offset, offset + len),
			models: [models[0]!.slice(offset, offset + len)],
		});
		const kernel = create(tiesMethod, ties, [{ weight: 1, density: 0.5 }])();
		expect(kindOf(() => kernel.scan(1, chunk(0, N)))).toBe("InvalidInput");
		expect(kindOf(() => kernel.emit(chunk(0, N)))).toBe("InvalidInput");
		// A cut inside a run of equal keys leaves its tie end to be located during emit, in index order.
		const zeros = new Float32Array(N).map((_, i) => (i % 3 === 0 ? 1 : 0));
		const tied = create(tiesMethod, ties, [{ weight: 1, density: 0.5 }])();
		const flat = (offset: number, len: number) => ({ offset, base: new Float32Array(len), models: [zeros.slice(offset, offset + len)] });
		for (let pass = 0; pass < tied.scanPasses; pass++) tied.scan(pass, flat(0, N));
		expect(kindOf(() => tied.emit(flat(N - CHUNK_ALIGN, CHUNK_ALIGN)))).toBe("InvalidInput");
	});
	test("breadcrumbs with an empty rank range zeroes every task vector: the output is the base", () => {
		// density 0.00005 and γ·N < 1: target 0 and n_top 0, so the kept range is empty.
		const params = { normalize: false, rescale: false, lambda: 1 };
		const mps = [{ weight: 1, density: 0.00005, gamma: 0 }];
		const out = runChunked(breadcrumbsMethod, params, mps, "clean1", CHUNK_ALIGN);
		expect(differences(out, DATA.clean1.base)).toEqual([]);
		expect(differences(out, runWhole(breadcrumbsMethod, params, mps, "clean1"))).toEqual([]);
	});
});
