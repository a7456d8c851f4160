/**
 * tfjs kernels of the elementwise and interpolation methods: linear, slerp, passthrough, nearswap, model_stock
 * (per tensor). Each mirrors
 * the CPU kernel in methods/ step by step, in float32 tfjs ops; whole-tensor reductions are summed per chunk and
 * the partial sums added in float64, scalar coefficients are computed in float64 exactly as on the CPU.
 */

import type { Tensor } from "@tensorflow/tfjs";
import { LINEAR_MIN_RELATIVE_WEIGHT_SUM } from "../methods/linear.js";
import { modelStockRatio } from "../methods/model-stock.js";
import { NEARSWAP_DIFF_EPS } from "../methods/nearswap.js";
import { SLERP_DOT_THRESHOLD, SLERP_NORM_EPS } from "../methods/slerp.js";
import { allLength, booleanParam, mapChunks, numberParam, reduceChunks, type TfjsKernel, upload } from "./tfjs-env.js";

/** Weights beyond 2^±64 are declined: w·x must stay within float32's range for every weight a recipe plausibly holds. */
const TFJS_LINEAR_MAX_WEIGHT = 2 ** 64;

/** Σ wᵢ·xᵢ, divided by Σ wᵢ when normalizing (the default). */
export const linearKernel: TfjsKernel = ({ tf, chunkElements }, { models, params, modelParams }, _ctx, method) => {
	const first = models[0];
	if (first === undefined || modelParams.length !== models.length || !allLength(models, first.length)) return undefined;
	const weights = modelParams.map((mp) => numberParam(mp, "weight", method.modelParams));
	if (!weights.every((w): w is number => w !== undefined && Number.isFinite(w))) return undefined;
	// tfjs multiplies in float32: extreme weights (1e308) would overflow there, so the CPU kernel (float64) takes them.
	if (weights.some((w) => w !== 0 && (Math.abs(w) > TFJS_LINEAR_MAX_WEIGHT || Math.abs(w) < 1 / TFJS_LINEAR_MAX_WEIGHT))) return undefined;
	const normalize = booleanParam(params, "normalize", method.params) ?? true;
	const total = weights.reduce((a, b) => a + b, 0);
	const magnitude = weights.reduce((a, b) => a + Math.abs(b), 0);
	if (normalize && !(Math.abs(total) > LINEAR_MIN_RELATIVE_WEIGHT_SUM * magnitude)) return undefined;
	return mapChunks({ tf, chunkElements }, first.length, (start, end) => {
		let acc = tf.mul(upload(tf, first, start, end), weights[0]!);
		for (let m = 1; m < models.length; m++) acc = tf.add(acc, tf.mul(upload(tf, models[m]!, start, end), weights[m]!));
		return normalize ? tf.div(acc, total) : acc;
	});
};

/**
 * SLERP base → model: ⟨a, b⟩, ‖a‖², ‖b‖² are tfjs reductions; θ and the two coefficients are float64 scalars as in
 * methods/slerp.ts. t = 0 and t = 1 are declined so the CPU kernel returns the exact copies.
 */
export const slerpKernel: TfjsKernel = (env, { base, models, params }, _ctx, method) => {
	const { tf } = env;
	const other = models[0];
	const t = numberParam(params, "t", method.params);
	if (base === undefined || other === undefined || models.length !== 1 || other.length !== base.length) return undefined;
	if (t === undefined || !Number.isFinite(t) || t === 0 || t === 1) return undefined;
	const n = base.length;
	const sums = reduceChunks(env, n, 3, (start, end) => {
		const a = upload(tf, base, start, end);
		const b = upload(tf, other, start, end);
		return tf.stack([tf.sum(tf.mul(a, b)), tf.sum(tf.square(a)), tf.sum(tf.square(b))]);
	});
	const na = Math.sqrt(sums[1]!);
	const nb = Math.sqrt(sums[2]!);
	const cos = sums[0]! / ((na > SLERP_NORM_EPS ? na : 1) * (nb > SLERP_NORM_EPS ? nb : 1));
	let ca = 1 - t;
	let cb = t;
	if (Math.abs(cos) <= SLERP_DOT_THRESHOLD) {
		const theta = Math.acos(cos);
		const sinTheta = Math.sin(theta);
		ca = Math.sin(theta - theta * t) / sinTheta;
		cb = Math.sin(theta * t) / sinTheta;
	}
	return mapChunks(env, n, (start, end) => tf.add(tf.mul(upload(tf, base, start, end), ca), tf.mul(upload(tf, other, start, end), cb)));
};

/** Passthrough with `scale`; an unscaled passthrough is a plain copy and is declined (the CPU copies it). */
export const passthroughKernel: TfjsKernel = (env, { base, models, modelParams }) => {
	const input = models.length === 1 ? models[0] : models.length === 0 ? base : undefined;
	const scale = modelParams[0]?.scale;
	if (input === undefined || typeof scale !== "number") return undefined;
	const { tf } = env;
	return mapChunks(env, input.length, (start, end) => tf.mul(upload(tf, input, start, end), scale));
};

/** NearSwap: w = min(1, t / max(|b − x|, 1e-6)), out = w·x + (1 − w)·b, elementwise. */
export const nearswapKernel: TfjsKernel = (env, { base, models, params }, _ctx, method) => {
	const model = models[0];
	const t = numberParam(params, "t", method.params);
	if (base === undefined || model === undefined || models.length !== 1 || model.length !== base.length) return undefined;
	if (t === undefined || !(t > 0)) return undefined;
	const { tf } = env;
	return mapChunks(env, base.length, (start, end) => {
		const b = upload(tf, base, start, end);
		const x = upload(tf, model, start, end);
		const w = tf.minimum(1, tf.div(t, tf.maximum(tf.abs(tf.sub(b, x)), NEARSWAP_DIFF_EPS)));
		return tf.add(tf.mul(w, x), tf.mul(tf.sub(1, w), b));
	});
};

/**
 * Model Stock, one ratio per tensor: the Gram matrix of the offsets xᵢ − b is reduced in tfjs, t comes from
 * modelStockRatio in float64, then out = b + Σ (t/N)·(xᵢ − b). filter_wise (one ratio per row) is declined.
 */
export const modelStockKernel: TfjsKernel = (env, { base, models, params }, _ctx, method) => {
	const count = models.length;
	if (base === undefined || count < 2 || !allLength(models, base.length)) return undefined;
	if (booleanParam(params, "filter_wise", method.params) !== false) return undefined;
	const { tf } = env;
	const n = base.length;
	const offsets = (start: number, end: number) => {
		const b = upload(tf, base, start, end);
		return { b, offsets: models.map((x) => tf.sub(upload(tf, x, start, end), b)) };
	};
	const pairs = reduceChunks(env, n, count * count, (start, end) => {
		const { offsets: o } = offsets(start, end);
		const sums: Tensor[] = [];
		for (let i = 0; i < count; i++) for (let j = 0; j < count; j++) sums.push(j < i ? tf.scalar(0) : tf.sum(tf.mul(o[i]!, o[j]!)));
		return tf.stack(sums);
	});
	for (let i = 0; i < count; i++) for (let j = 0; j < i; j++) pairs[i * count + j] = pairs[j * count + i]!;
	const coeff = modelStockRatio(pairs, count) / count;
	return mapChunks(env, n, (start, end) => {
		const { b, offsets: o } = offsets(start, end);
		return tf.add(b, tf.mul(tf.addN(o), coeff));
	});
};
