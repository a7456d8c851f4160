/**
 * tfjs kernels of Reinforced Agent Merging (ram, ramplus_tl), mirroring methods/ram.ts. "Changed" means
 * |τ| > ε with τ = x − b in float32; the comparison uses the largest float32 ≤ ε so that it classifies every entry
 * exactly as the CPU kernel does, which makes the per-model counts of ramplus_tl identical too.
 */
import type { Tensor } from "@tensorflow/tfjs";
import type { MergeMethod } from "../methods/types.js";
import type { Tf } from "../tfjs/loader.js";
import {
	allLength,
	float32AtMost,
	mapChunks,
	numberParam,
	reduceChunks,
	type TfjsEnv,
	type TfjsInput,
	type TfjsKernel,
	upload,
} from "./tfjs-env.js";

/** Inputs checked as the CPU kernel checks them; undefined declines (the CPU kernel then throws the MethodError). */
function ramInputs(input: TfjsInput, method: MergeMethod): { base: Float32Array; epsilon: number } | undefined {
	const { base, models, params } = input;
	const epsilon = numberParam(params, "epsilon", method.params);
	if (base === undefined || models.length === 0 || !allLength(models, base.length)) return undefined;
	if (epsilon === undefined || !(epsilon >= 0)) return undefined;
	return { base, epsilon };
}

/** Uploads one chunk: the base, each model's task vector τᵢ and whether model i changes each entry. */
function chunkTaus(tf: Tf, base: Float32Array, models: readonly Float32Array[], threshold: number, start: number, end: number) {
	const b = upload(tf, base, start, end);
	const taus = models.map((x) => tf.sub(upload(tf, x, start, end), b));
	const changed = taus.map((tau) => tf.greater(tf.abs(tau), threshold));
	const count = tf.addN(changed.map((c) => tf.cast(c, "float32")));
	return { b, taus, changed, count };
}

/** b + the only change where one model changes an entry (times its λ), b + the mean change where several do. */
function ramChunks(
	env: TfjsEnv,
	base: Float32Array,
	models: readonly Float32Array[],
	epsilon: number,
	lambdas: readonly number[],
): Float32Array {
	const { tf } = env;
	const threshold = float32AtMost(epsilon);
	return mapChunks(env, base.length, (start, end) => {
		const { b, taus, changed, count } = chunkTaus(tf, base, models, threshold, start, end);
		const zero = tf.zerosLike(b);
		const sum = tf.addN(taus.map((tau, i) => tf.where(changed[i]!, tau, zero)));
		const unique = tf.addN(taus.map((tau, i) => tf.where(changed[i]!, lambdas[i] === 1 ? tau : tf.mul(tau, lambdas[i]!), zero)));
		const mean = tf.add(b, tf.div(sum, tf.maximum(count, 1)));
		return tf.where(tf.equal(count, 0), b, tf.where(tf.equal(count, 1), tf.add(b, unique), mean));
	});
}

/** RAM: unique changes are kept, shared changes averaged. */
export const ramKernel: TfjsKernel = (env, input, _ctx, method) => {
	const checked = ramInputs(input, method);
	if (checked === undefined) return undefined;
	return ramChunks(
		env,
		checked.base,
		input.models,
		checked.epsilon,
		input.models.map(() => 1),
	);
};

/**
 * RAM+ tensor-local: first a reduction pass counts, per model, the entries it shares with another model and the
 * entries only it changes; λᵢ = 1 + r·clamp(shared/max(unique, ε), 0, α) in float64; then RAM with those λ.
 */
export const ramplusTlKernel: TfjsKernel = (env, input, _ctx, method) => {
	const checked = ramInputs(input, method);
	const r = numberParam(input.params, "r", method.params);
	const alpha = numberParam(input.params, "alpha", method.params);
	if (checked === undefined || r === undefined || alpha === undefined) return undefined;
	const { base, epsilon } = checked;
	const { models } = input;
	const { tf } = env;
	const threshold = float32AtMost(epsilon);
	const counts = reduceChunks(env, base.length, 2 * models.length, (start, end) => {
		const { changed, count } = chunkTaus(tf, base, models, threshold, start, end);
		const shared = tf.cast(tf.greater(count, 1), "float32");
		const alone = tf.cast(tf.equal(count, 1), "float32");
		const parts: Tensor[] = [];
		for (const c of changed) {
			const mine = tf.cast(c, "float32");
			parts.push(tf.sum(tf.mul(mine, shared)), tf.sum(tf.mul(mine, alone)));
		}
		return tf.stack(parts);
	});
	const lambdas = models.map((_, i) => {
		const shared = counts[2 * i]!;
		const unique = counts[2 * i + 1]!;
		return 1 + r * Math.min(alpha, Math.max(0, shared / Math.max(unique, epsilon)));
	});
	return ramChunks(env, base, models, epsilon, lambdas);
};
