/**
 * node-llama-cpp for tests: one Llama instance per test file (getLlama() loads the native binary once),
 * exact-mode contexts (F32 KV cache, no flash attention) and next-token probabilities as log-probabilities.
 */
import { getLlama, type Llama, type LlamaModel } from "node-llama-cpp";

let llama: Promise<Llama> | undefined;

/** The shared CPU Llama instance (no GPU: tests must not depend on the machine's devices). */
export function testLlama(): Promise<Llama> {
	llama ??= getLlama({ gpu: false, build: "never", progressLogs: false, logLevel: "error" as never });
	return llama;
}

export async function loadGguf(path: string): Promise<LlamaModel> {
	return (await testLlama()).loadModel({ modelPath: path, gpuLayers: 0 });
}

/**
 * Log-probabilities of the token after `ids` over the whole vocabulary (float32 probabilities from
 * llama.cpp, as log), in the exact mode: F32 KV cache, no flash attention.
 */
export async function nextTokenLogProbs(model: LlamaModel, ids: readonly number[], vocab: number): Promise<Float64Array> {
	const context = await model.createContext({
		contextSize: Math.max(64, ids.length + 8),
		batchSize: Math.max(64, ids.length + 8),
		flashAttention: false,
		experimentalKvCacheKeyType: "F32",
		experimentalKvCacheValueType: "F32",
		threads: 2,
	});
	try {
		const seq = context.getSequence();
		const input = [...ids.slice(0, -1), [ids.at(-1)!, { generateNext: { probabilities: true } }] as const];
		const results = await seq.controlledEvaluate(input as never);
		const probs = results[ids.length - 1]?.next.probabilities;
		if (probs === undefined) throw new Error("node-llama-cpp returned no probabilities");
		const out = new Float64Array(vocab).fill(-Infinity);
		for (const [token, p] of probs) out[token as number] = Math.log(p);
		return out;
	} finally {
		await context.dispose();
	}
}

/** log-softmax of one row of logits. */
export function logSoftmax(logits: ArrayLike<number>, start = 0, length = logits.length): Float64Array {
	let max = -Infinity;
	for (let i = 0; i < length; i++) max = Math.max(max, logits[start + i]!);
	let sum = 0;
	for (let i = 0; i < length; i++) sum += Math.exp(logits[start + i]! - max);
	const lse = max + Math.log(sum);
	const out = new Float64Array(length);
	for (let i = 0; i < length; i++) out[i] = logits[start + i]! - lse;
	return out;
}

export function argmax(v: ArrayLike<number>): number {
	let best = 0;
	for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
	return best;
}

/** Largest |a − b| and where. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
	let max = 0;
	let at = -1;
	for (let i = 0; i < a.length; i++) {
		const d = Math.abs(a[i]! - b[i]!);
		if (d > max || Number.isNaN(d)) {
			max = d;
			at = i;
		}
	}
	return { max, at };
}
