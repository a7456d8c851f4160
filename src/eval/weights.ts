import type { Tensor1D, Tensor2D } from "@tensorflow/tfjs";
import { EvaluationError } from "../errors.js";
import { type FloatDtype, isFloatDtype } from "../io/dtypes.js";
import type { TensorSource } from "../io/types.js";
import { formatShape, shapeEquals } from "../tensor/tensor.js";
import type { MistralConfig } from "./mistral-config.js";
import { decodeTransposed, transposeMatrix } from "./model/transpose.js";
import type { Tf } from "./tfjs-backend.js";

/**
 * One decoder layer's weights on the tfjs backend. Projections are stored transposed to [in, out] so every
 * product is a plain `x · W` (tfjs-wasm runs transposeB products about ten times slower).
 */
export interface LayerWeights {
	/** [hidden] */
	inputNorm: Tensor1D;
	/** [hidden, heads·headDim] */
	wq: Tensor2D;
	/** [hidden, kvHeads·headDim] */
	wk: Tensor2D;
	/** [hidden, kvHeads·headDim] */
	wv: Tensor2D;
	/** [heads·headDim, hidden] */
	wo: Tensor2D;
	/** [hidden] */
	postNorm: Tensor1D;
	/** [hidden, intermediate] */
	wGate: Tensor2D;
	/** [hidden, intermediate] */
	wUp: Tensor2D;
	/** [intermediate, hidden] */
	wDown: Tensor2D;
}

/** The final norm and the output projection. */
export interface HeadWeights {
	/** [hidden] */
	norm: Tensor1D;
	/** [hidden, vocab]: lm_head transposed, or the embedding matrix transposed when tied. */
	lmHead: Tensor2D;
}

/** Every weight of a model (in-memory mode). The embedding table stays a plain array: it is only gathered from. */
export interface MistralWeights {
	/** [vocab, hidden], row-major. */
	embed: Float32Array;
	layers: LayerWeights[];
	head: HeadWeights;
}

const EMBED_NAME = "model.embed_tokens.weight";
const NORM_NAME = "model.norm.weight";
const LM_HEAD_NAME = "lm_head.weight";

/** Hugging Face name of a decoder-layer tensor, e.g. `model.layers.3.self_attn.q_proj.weight`. */
function layerTensorName(layer: number, module: string): string {
	return `model.layers.${layer}.${module}.weight`;
}

/** Checks that a tensor exists, holds floats and has the shape config.json implies; returns its dtype. */
function checkTensor(src: TensorSource, name: string, shape: number[]): FloatDtype {
	if (!src.has(name)) throw new EvaluationError("Config", `${src.location}: tensor "${name}" is missing`);
	const info = src.info(name);
	if (!shapeEquals(info.shape, shape)) {
		throw new EvaluationError(
			"Config",
			`${src.location}: tensor "${name}" has shape ${formatShape(info.shape)}, config.json implies ${formatShape(shape)}`,
		);
	}
	if (!isFloatDtype(info.dtype)) {
		throw new EvaluationError(
			"Config",
			`${src.location}: tensor "${name}" has dtype ${info.dtype}; the evaluator reads F64/F32/F16/BF16 weights`,
		);
	}
	return info.dtype;
}

/** Reads a checked tensor as float32. */
async function readChecked(src: TensorSource, name: string, shape: number[]): Promise<Float32Array> {
	checkTensor(src, name, shape);
	return (await src.read(name)).data;
}

/** A checked [rows, cols] tensor decoded straight into its float32 transpose [cols, rows]. */
async function readTransposed(src: TensorSource, name: string, rows: number, cols: number): Promise<Float32Array> {
	const dtype = checkTensor(src, name, [rows, cols]);
	return decodeTransposed(await src.readRaw(name), dtype, rows, cols);
}

/** A HF [out, in] projection as a tfjs [in, out] tensor. */
async function readProjection(tf: Tf, src: TensorSource, name: string, out: number, inp: number): Promise<Tensor2D> {
	return tf.tensor2d(await readTransposed(src, name, out, inp), [inp, out]);
}

/** Loads decoder layer `layer` (bf16/f16/f32/f64 on disk → float32 tensors), shapes asserted against `cfg`. */
export async function loadLayerWeights(tf: Tf, src: TensorSource, cfg: MistralConfig, layer: number): Promise<LayerWeights> {
	const h = cfg.hidden;
	const qDim = cfg.heads * cfg.headDim;
	const kvDim = cfg.kvHeads * cfg.headDim;
	const name = (m: string): string => layerTensorName(layer, m);
	const vector = async (m: string): Promise<Tensor1D> => tf.tensor1d(await readChecked(src, name(m), [h]));
	const w: Partial<LayerWeights> = {};
	try {
		w.inputNorm = await vector("input_layernorm");
		w.wq = await readProjection(tf, src, name("self_attn.q_proj"), qDim, h);
		w.wk = await readProjection(tf, src, name("self_attn.k_proj"), kvDim, h);
		w.wv = await readProjection(tf, src, name("self_attn.v_proj"), kvDim, h);
		w.wo = await readProjection(tf, src, name("self_attn.o_proj"), h, qDim);
		w.postNorm = await vector("post_attention_layernorm");
		w.wGate = await readProjection(tf, src, name("mlp.gate_proj"), cfg.intermediate, h);
		w.wUp = await readProjection(tf, src, name("mlp.up_proj"), cfg.intermediate, h);
		w.wDown = await readProjection(tf, src, name("mlp.down_proj"), h, cfg.intermediate);
	} catch (err) {
		for (const t of Object.values(w)) t?.dispose();
		throw err;
	}
	return w as LayerWeights;
}

/** The [vocab, hidden] embedding table as a plain array. */
export async function loadEmbeddings(src: TensorSource, cfg: MistralConfig): Promise<Float32Array> {
	return readChecked(src, EMBED_NAME, [cfg.vocab, cfg.hidden]);
}

/** True when the output projection is the embedding matrix: tie_word_embeddings, or no lm_head tensor at all. */
export function isHeadTied(src: TensorSource, cfg: MistralConfig): boolean {
	return cfg.tieEmbeddings || !src.has(LM_HEAD_NAME);
}

/**
 * Loads the final norm and lm_head ([hidden, vocab]). When tied, the embedding table is transposed instead;
 * pass it as `embed` when already loaded to avoid reading it twice.
 */
export async function loadHeadWeights(tf: Tf, src: TensorSource, cfg: MistralConfig, embed?: Float32Array): Promise<HeadWeights> {
	const normData = await readChecked(src, NORM_NAME, [cfg.hidden]);
	let transposed: Float32Array;
	if (!isHeadTied(src, cfg)) transposed = await readTransposed(src, LM_HEAD_NAME, cfg.vocab, cfg.hidden);
	else if (embed !== undefined) transposed = transposeMatrix(embed, cfg.vocab, cfg.hidden);
	else transposed = await readTransposed(src, EMBED_NAME, cfg.vocab, cfg.hidden);
	const norm = tf.tensor1d(normData);
	return { norm, lmHead: tf.tensor2d(transposed, [cfg.hidden, cfg.vocab]) };
}

/** Loads every weight (in-memory mode). */
export async function loadMistralWeights(tf: Tf, src: TensorSource, cfg: MistralConfig): Promise<MistralWeights> {
	const embed = await loadEmbeddings(src, cfg);
	const layers: LayerWeights[] = [];
	try {
		for (let l = 0; l < cfg.layers; l++) layers.push(await loadLayerWeights(tf, src, cfg, l));
		const head = await loadHeadWeights(tf, src, cfg, embed);
		return { embed, layers, head };
	} catch (err) {
		for (const lw of layers) disposeLayerWeights(lw);
		throw err;
	}
}

export function disposeLayerWeights(w: LayerWeights): void {
	for (const t of Object.values(w)) t.dispose();
}

export function disposeHeadWeights(w: HeadWeights): void {
	w.norm.dispose();
	w.lmHead.dispose();
}

/** Frees every tensor of an in-memory model (the embedding array is left to the garbage collector). */
export function disposeMistralWeights(w: MistralWeights): void {
	for (const lw of w.layers) disposeLayerWeights(lw);
	disposeHeadWeights(w.head);
}
