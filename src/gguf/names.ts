/**
 * Hugging Face Llama/Mistral tensor names → llama.cpp's GGUF names for the `llama` architecture, and the
 * q/k row permutation between the two rotary layouts.
 */

/** What a tensor is in llama.cpp's terms; `rotary` marks q/k projections that need the permutation. */
interface GgufName {
	name: string;
	/** Layer index for `blk.N.*` tensors. */
	layer?: number;
	/** "q" or "k" when the rows must be permuted for llama.cpp's rotary layout. */
	rotary?: "q" | "k";
}

const GLOBAL: Record<string, string> = {
	"model.embed_tokens.weight": "token_embd.weight",
	"model.norm.weight": "output_norm.weight",
	"lm_head.weight": "output.weight",
};

const LAYER: Record<string, string> = {
	"input_layernorm.weight": "attn_norm.weight",
	"self_attn.q_proj.weight": "attn_q.weight",
	"self_attn.k_proj.weight": "attn_k.weight",
	"self_attn.v_proj.weight": "attn_v.weight",
	"self_attn.o_proj.weight": "attn_output.weight",
	"post_attention_layernorm.weight": "ffn_norm.weight",
	"mlp.gate_proj.weight": "ffn_gate.weight",
	"mlp.up_proj.weight": "ffn_up.weight",
	"mlp.down_proj.weight": "ffn_down.weight",
};

const LAYER_RE = /^model\.layers\.(\d+)\.(.+)$/;

/**
 * The GGUF name of a Hugging Face Llama/Mistral tensor, or undefined for a tensor llama.cpp's `llama`
 * architecture has no place for (rotary caches such as `rotary_emb.inv_freq` are recomputed by llama.cpp).
 */
export function ggufTensorName(hfName: string): GgufName | undefined {
	const global = GLOBAL[hfName];
	if (global !== undefined) return { name: global };
	const m = LAYER_RE.exec(hfName);
	if (m === null) return undefined;
	const suffix = LAYER[m[2]!];
	if (suffix === undefined) return undefined;
	const layer = Number(m[1]);
	const rotary = m[2] === "self_attn.q_proj.weight" ? "q" : m[2] === "self_attn.k_proj.weight" ? "k" : undefined;
	return { name: `blk.${layer}.${suffix}`, layer, ...(rotary !== undefined ? { rotary } : {}) };
}

/** Tensors in the Hugging Face checkpoint that llama.cpp does not need and the export skips. */
export function isSkippedTensor(hfName: string): boolean {
	return /\.rotary_emb\.inv_freq$/.test(hfName);
}

/**
 * The Hugging Face row that llama.cpp's row `row` of a q or k projection comes from: within each head of `headDim`
 * rows, row 2j+s comes from row s·headDim/2 + j (see permuteRotaryRows).
 */
export function rotarySourceRow(row: number, headDim: number): number {
	const within = row % headDim;
	return row - within + (within & 1) * (headDim / 2) + (within >> 1);
}

/**
 * Reorders the rows of a q or k projection from Hugging Face's rotate-half layout (per head: the first
 * half of the rotary dimensions, then the second) to llama.cpp's interleaved one (pairs side by side):
 * within each head of `headDim` rows, output row 2j+s is input row s·headDim/2 + j. `rows` holds whole
 * heads of `cols` values each, row-major; returns a new array.
 */
export function permuteRotaryRows(rows: Float32Array, cols: number, headDim: number): Float32Array {
	const nRows = rows.length / cols;
	if (!Number.isInteger(nRows) || nRows % headDim !== 0 || headDim % 2 !== 0) {
		throw new RangeError(`permuteRotaryRows: ${rows.length} values are not whole heads of ${headDim} rows × ${cols}`);
	}
	const out = new Float32Array(rows.length);
	for (let r = 0; r < nRows; r++) {
		const from = rotarySourceRow(r, headDim) * cols;
		out.set(rows.subarray(from, from + cols), r * cols);
	}
	return out;
}

/** The inverse of permuteRotaryRows (llama.cpp layout → Hugging Face layout), for tests and readers. */
export function unpermuteRotaryRows(rows: Float32Array, cols: number, headDim: number): Float32Array {
	const out = new Float32Array(rows.length);
	const half = headDim / 2;
	const nRows = rows.length / cols;
	for (let head = 0; head < nRows; head += headDim) {
		for (let j = 0; j < half; j++) {
			for (let s = 0; s < 2; s++) {
				const from = (head + 2 * j + s) * cols;
				out.set(rows.subarray(from, from + cols), (head + s * half + j) * cols);
			}
		}
	}
	return out;
}
