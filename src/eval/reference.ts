import { EvaluationError } from "../errors.js";
import type { TensorSource } from "../io/types.js";
import type { MistralConfig } from "./mistral-config.js";

/**
 * A plain float64 forward pass written straight from docs/evaluator.md ("The model"), with no tfjs and no
 * cleverness: loops over rows, heads and keys in the most literal order. It exists to check forward.ts
 * (tests compare the two within a tolerance) and is far too slow for real models.
 */

/** Every tensor of a checkpoint by its Hugging Face name, as float64, in the file's [out, in] layout. */
export type ReferenceWeights = Map<string, Float64Array>;

/** Reads every tensor the reference needs from `src` (weights up-cast from their stored dtype). */
export async function loadReferenceWeights(src: TensorSource): Promise<ReferenceWeights> {
	const out: ReferenceWeights = new Map();
	for (const name of src.names()) out.set(name, Float64Array.from((await src.read(name)).data));
	return out;
}

function get(w: ReferenceWeights, name: string): Float64Array {
	const t = w.get(name);
	if (t === undefined) throw new EvaluationError("Config", `reference: tensor "${name}" is missing`);
	return t;
}

/** y[o] = Σᵢ W[o, i] · x[i] for a [out, in] matrix W. */
function linear(W: Float64Array, x: Float64Array, out: number): Float64Array {
	const inp = x.length;
	const y = new Float64Array(out);
	for (let o = 0; o < out; o++) {
		let s = 0;
		for (let i = 0; i < inp; i++) s += W[o * inp + i]! * x[i]!;
		y[o] = s;
	}
	return y;
}

/** x · 1/√(mean(x²) + eps) · w */
function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
	let ss = 0;
	for (const v of x) ss += v * v;
	const r = 1 / Math.sqrt(ss / x.length + eps);
	return x.map((v, i) => v * r * w[i]!);
}

/** Rotate-half RoPE on one head vector at position p: pairs (j, j + d/2) turned by p·θ^(−2j/d). */
function rope(v: Float64Array, p: number, theta: number): Float64Array {
	const d = v.length;
	const half = d / 2;
	const out = new Float64Array(d);
	for (let j = 0; j < half; j++) {
		const angle = p * theta ** ((-2 * j) / d);
		const c = Math.cos(angle);
		const s = Math.sin(angle);
		out[j] = v[j]! * c - v[j + half]! * s;
		out[j + half] = v[j + half]! * c + v[j]! * s;
	}
	return out;
}

/** Logits for every position of one prompt: [tokens.length × vocab], row-major. */
export function referenceForward(cfg: MistralConfig, w: ReferenceWeights, tokens: readonly number[]): Float64Array {
	const { hidden: H, heads, kvHeads, headDim: d, vocab: V, rmsNormEps: eps } = cfg;
	const T = tokens.length;
	const embed = get(w, "model.embed_tokens.weight");
	// Residual stream, one row per position.
	const xs = tokens.map((id) => embed.slice(id * H, (id + 1) * H));
	for (let l = 0; l < cfg.layers; l++) {
		const p = (m: string): Float64Array => get(w, `model.layers.${l}.${m}.weight`);
		const qs: Float64Array[][] = [];
		const ks: Float64Array[][] = [];
		const vs: Float64Array[][] = [];
		for (let t = 0; t < T; t++) {
			const xn = rmsNorm(xs[t]!, p("input_layernorm"), eps);
			const q = linear(p("self_attn.q_proj"), xn, heads * d);
			const k = linear(p("self_attn.k_proj"), xn, kvHeads * d);
			const v = linear(p("self_attn.v_proj"), xn, kvHeads * d);
			qs.push(Array.from({ length: heads }, (_, h) => rope(q.slice(h * d, (h + 1) * d), t, cfg.ropeTheta)));
			ks.push(Array.from({ length: kvHeads }, (_, h) => rope(k.slice(h * d, (h + 1) * d), t, cfg.ropeTheta)));
			vs.push(Array.from({ length: kvHeads }, (_, h) => v.slice(h * d, (h + 1) * d)));
		}
		for (let i = 0; i < T; i++) {
			const att = new Float64Array(heads * d);
			for (let h = 0; h < heads; h++) {
				const kvh = Math.floor(h / (heads / kvHeads));
				// Keys j with j ≤ i and, under a sliding window W, i − W < j.
				const visible: number[] = [];
				for (let j = 0; j <= i; j++) if (cfg.slidingWindow === null || i - cfg.slidingWindow < j) visible.push(j);
				const scores = visible.map((j) => {
					let s = 0;
					for (let e = 0; e < d; e++) s += qs[i]![h]![e]! * ks[j]![kvh]![e]!;
					return s / Math.sqrt(d);
				});
				const max = Math.max(...scores);
				const exps = scores.map((s) => Math.exp(s - max));
				const sum = exps.reduce((a, b) => a + b, 0);
				visible.forEach((j, n) => {
					for (let e = 0; e < d; e++) att[h * d + e]! += (exps[n]! / sum) * vs[j]![kvh]![e]!;
				});
			}
			const o = linear(p("self_attn.o_proj"), att, H);
			const h1 = xs[i]!.map((v, e) => v + o[e]!);
			const hn = rmsNorm(h1, p("post_attention_layernorm"), eps);
			const gate = linear(p("mlp.gate_proj"), hn, cfg.intermediate);
			const up = linear(p("mlp.up_proj"), hn, cfg.intermediate);
			const act = gate.map((gv, e) => (gv / (1 + Math.exp(-gv))) * up[e]!);
			const down = linear(p("mlp.down_proj"), act, H);
			xs[i] = h1.map((v, e) => v + down[e]!);
		}
	}
	const head = cfg.tieEmbeddings || !w.has("lm_head.weight") ? embed : get(w, "lm_head.weight");
	const logits = new Float64Array(T * V);
	for (let t = 0; t < T; t++) logits.set(linear(head, rmsNorm(xs[t]!, get(w, "model.norm.weight"), eps), V), t * V);
	return logits;
}
