/**
 * The tfjs kernel of the generalized task-arithmetic family (task_arithmetic, ties, dare_*, breadcrumbs*, della*),
 * one configuration per variant as in methods/. Keep/drop masks are computed on the CPU by the very sparsifiers
 * the CPU kernel calls (same seeded streams, same exact k-th selection), so both backends drop the same entries;
 * rescaling, sign consensus, the weighted sum and the base add run in tfjs.
 */
import type { Tensor } from "@tensorflow/tfjs";
import {
	type Consensus,
	DEFAULT_EPSILON,
	DEFAULT_GAMMA,
	dellaMagprune,
	dropAndRescale,
	MIN_WEIGHT_SUM,
	magnitudeMask,
	magnitudeOutliers,
	RESCALE_MIN_NORM,
	type Rescale,
	RNG_PURPOSE_SPARSIFY,
	type SparsifyMethod,
	type SparsifyWhere,
} from "../methods/task-vector/index.js";
import type { MergeContext } from "../methods/types.js";
import {
	allLength,
	booleanParam,
	mapChunks,
	numberParam,
	reduceChunks,
	type TfjsInput,
	type TfjsKernel,
	upload,
	uploadMask,
} from "./tfjs-env.js";

/** How a variant sparsifies and combines; the defaults of normalize / rescale are read from the method's spec. */
interface TaskVectorConfig {
	sparsify: SparsifyMethod;
	consensus: Consensus;
}

/** Per-model settings, read and checked once per tensor. */
interface ModelSetting {
	weight: number;
	density: number;
	gamma: number;
	epsilon: number;
}

/** 1 where the CPU sparsifier keeps an entry; a dropped zero and a kept zero contribute the same, so either is fine. */
function nonZeroMask(values: Float32Array): Uint8Array {
	const mask = new Uint8Array(values.length);
	for (let i = 0; i < values.length; i++) mask[i] = values[i] !== 0 ? 1 : 0;
	return mask;
}

/**
 * The keep mask of model m, from the CPU sparsifier run with rescale off: on a vector of ones for DARE (only the
 * random stream decides), on the float32 task vector for the magnitude-ranked ones. undefined keeps everything.
 */
function keepMask(
	config: TaskVectorConfig,
	where: SparsifyWhere,
	input: TfjsInput,
	base: Float32Array,
	m: number,
	s: ModelSetting,
	ctx: MergeContext,
): Uint8Array | undefined {
	if (config.sparsify === "none" || s.density >= 1) return undefined;
	const offset = input.elementOffset ?? 0;
	const x = input.models[m]!;
	if (config.sparsify === "random") {
		return nonZeroMask(dropAndRescale(new Float32Array(x.length).fill(1), s.density, ctx.rngKey(m, RNG_PURPOSE_SPARSIFY), false, offset));
	}
	const delta = new Float32Array(x.length);
	for (let i = 0; i < delta.length; i++) delta[i] = x[i]! - base[i]!;
	switch (config.sparsify) {
		case "magnitude":
			return nonZeroMask(magnitudeMask(delta, s.density, false, where));
		case "magnitude_outliers":
			return nonZeroMask(magnitudeOutliers(delta, s.density, s.gamma, false));
		case "della_magprune":
			return nonZeroMask(
				dellaMagprune(delta, input.shape, s.density, s.epsilon, ctx.rngKey(m, RNG_PURPOSE_SPARSIFY), false, offset, where),
			);
	}
}

function readRescale(value: unknown): Rescale | undefined {
	return typeof value === "boolean" || value === "inverse_density" ? value : undefined;
}

/** A kernel for one task-arithmetic variant. */
export function tfjsTaskVectorKernel(config: TaskVectorConfig): TfjsKernel {
	return (env, input, ctx, method) => {
		const { tf } = env;
		const { base, models, params, modelParams } = input;
		if (base === undefined || models.length === 0 || modelParams.length !== models.length || !allLength(models, base.length))
			return undefined;
		const n = base.length;
		const settings: ModelSetting[] = [];
		for (const mp of modelParams) {
			const weight = numberParam(mp, "weight", method.modelParams);
			const density = numberParam(mp, "density", method.modelParams, 1);
			const gamma = numberParam(mp, "gamma", method.modelParams, DEFAULT_GAMMA);
			const epsilon = numberParam(mp, "epsilon", method.modelParams, DEFAULT_EPSILON);
			if (weight === undefined || density === undefined || gamma === undefined || epsilon === undefined) return undefined;
			settings.push({ weight, density, gamma, epsilon });
		}
		const rescale = readRescale(params.rescale ?? method.params.rescale?.default);
		const normalize = booleanParam(params, "normalize", method.params);
		const lambda = numberParam(params, "lambda", method.params, 1);
		if (rescale === undefined || normalize === undefined || lambda === undefined) return undefined;

		// 1. Keep masks on the CPU (identical to the CPU kernel's by construction).
		const where: SparsifyWhere = { method: method.name, tensorName: input.tensorName };
		const masks = settings.map((s, m) => keepMask(config, where, input, base, m, s, ctx));

		// 2. Rescale per model: ÷density, or × ‖δ‖₁/‖kept δ‖₁ with both norms reduced in tfjs (float64 across chunks).
		const l1Models = masks.flatMap((mask, m) => (mask !== undefined && rescale === true ? [m] : []));
		const norms = reduceChunks(env, l1Models.length === 0 ? 0 : n, 2 * l1Models.length, (start, end) => {
			const b = upload(tf, base, start, end);
			const parts: Tensor[] = [];
			for (const m of l1Models) {
				const delta = tf.abs(tf.sub(upload(tf, models[m]!, start, end), b));
				parts.push(tf.sum(delta), tf.sum(tf.where(uploadMask(tf, masks[m]!, start, end), delta, tf.zerosLike(delta))));
			}
			return tf.stack(parts);
		});
		const factors = settings.map(() => 1);
		l1Models.forEach((m, j) => {
			const before = norms[2 * j]!;
			const after = norms[2 * j + 1]!;
			if (before >= RESCALE_MIN_NORM && after >= RESCALE_MIN_NORM) factors[m] = before / after;
		});
		const divideByDensity = (m: number) => masks[m] !== undefined && rescale === "inverse_density" && settings[m]!.density > 0;

		// 3. Weighted task vectors, optional sign consensus, normalize, λ, + base.
		const weightSum = settings.reduce((a, s) => a + s.weight, 0);
		const divisor = Math.abs(weightSum) < MIN_WEIGHT_SUM ? 1 : weightSum;
		return mapChunks(env, n, (start, end) => {
			const b = upload(tf, base, start, end);
			const weighted = models.map((x, m) => {
				let delta = tf.sub(upload(tf, x, start, end), b);
				const mask = masks[m];
				if (mask !== undefined) delta = tf.where(uploadMask(tf, mask, start, end), delta, tf.zerosLike(delta));
				if (divideByDensity(m)) delta = tf.div(delta, settings[m]!.density);
				else if (factors[m] !== 1) delta = tf.mul(delta, factors[m]!);
				return tf.mul(delta, settings[m]!.weight);
			});
			let mixed: Tensor;
			if (config.consensus === "sum") {
				const stacked = tf.stack(weighted);
				const positive = tf.greaterEqual(tf.sum(stacked, 0), 0);
				const agree = tf.logicalOr(
					tf.logicalAnd(positive, tf.greater(stacked, 0)),
					tf.logicalAnd(tf.logicalNot(positive), tf.less(stacked, 0)),
				);
				mixed = tf.sum(tf.where(agree, stacked, tf.zerosLike(stacked)), 0);
				if (normalize) {
					const weightColumn = tf.tensor2d(
						settings.map((s) => s.weight),
						[settings.length, 1],
					);
					const agreeing = tf.sum(tf.mul(tf.cast(agree, "float32"), weightColumn), 0);
					mixed = tf.div(mixed, tf.where(tf.equal(agreeing, 0), tf.onesLike(agreeing), agreeing));
				}
			} else {
				mixed = tf.addN(weighted);
				if (normalize) mixed = tf.div(mixed, divisor);
			}
			if (lambda !== 1) mixed = tf.mul(mixed, lambda);
			return tf.where(tf.equal(mixed, 0), b, tf.add(b, mixed));
		});
	};
}
