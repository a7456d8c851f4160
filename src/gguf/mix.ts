/**
 * Which ggml type each tensor gets for an export type: 1-D tensors (norms) stay F32; the float types apply
 * to every matrix; the quantized ones follow llama.cpp's llama-quantize mixes — the output matrix (or the
 * token embedding when it doubles as the output) gets Q6_K, and q4_k_m / q5_k_m give Q6_K to attn_v and
 * ffn_down in the layers where `moreBits` holds (first and last eighth, and every third one between).
 * Rows that are not whole blocks fall back as llama.cpp does: Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, and
 * to F16 when even 32-element blocks do not fit.
 */
import { GGML_TYPES, type GgmlType, LLAMA_FILE_TYPES } from "./constants.js";

/** The export types `merge export --type` accepts, as people name the files they download. */
export const GGUF_EXPORT_TYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"] as const;
/** A GGUF export type: `f32`, `f16`, `bf16` (unquantized), `q8_0`, `q4_0`, `q4_k_m`, `q5_k_m` or `q6_k`. */
export type GgufExportType = (typeof GGUF_EXPORT_TYPES)[number];

export function isGgufExportType(s: string): s is GgufExportType {
	return (GGUF_EXPORT_TYPES as readonly string[]).includes(s);
}

/** The ggml type of the bulk of the matrices. */
const BASE: Record<GgufExportType, GgmlType> = {
	f32: "F32",
	f16: "F16",
	bf16: "BF16",
	q8_0: "Q8_0",
	q4_0: "Q4_0",
	q4_k_m: "Q4_K",
	q5_k_m: "Q5_K",
	q6_k: "Q6_K",
};

export function fileTypeOf(type: GgufExportType): number {
	return LLAMA_FILE_TYPES[type];
}

/** What the mix needs to know about one tensor. */
interface MixInput {
	/** GGUF name, e.g. "blk.3.attn_v.weight". */
	name: string;
	/** GGUF dims, row length first. */
	dims: readonly number[];
	layer?: number;
	/** Number of transformer layers. */
	layers: number;
	/** Whether the file has a separate output.weight (else the token embedding is the output). */
	hasOutput: boolean;
}

/** llama.cpp's use_more_bits: the first and last eighth of the layers, and every third layer between. */
function moreBits(layer: number, layers: number): boolean {
	const eighth = Math.floor(layers / 8);
	return layer < eighth || layer >= Math.floor((7 * layers) / 8) || (layer - eighth) % 3 === 2;
}

const FALLBACK: Partial<Record<GgmlType, GgmlType>> = { Q4_K: "Q5_0", Q5_K: "Q5_1", Q6_K: "Q8_0" };

/** The ggml type of one tensor in an export of `type`. */
export function tensorTypeFor(type: GgufExportType, t: MixInput): GgmlType {
	if (t.dims.length < 2) return "F32";
	const base = BASE[type];
	const quantized = GGML_TYPES[base].block > 1;
	if (!quantized) return base;
	let chosen = base;
	const isOutput = t.name === "output.weight" || (!t.hasOutput && t.name === "token_embd.weight");
	if (isOutput) {
		chosen = t.dims[0]! % GGML_TYPES[base].block !== 0 ? "Q8_0" : base === "Q8_0" ? "Q8_0" : "Q6_K";
	} else if (
		(type === "q4_k_m" || type === "q5_k_m") &&
		t.layer !== undefined &&
		(t.name.endsWith(".attn_v.weight") || t.name.endsWith(".ffn_down.weight"))
	) {
		if (moreBits(t.layer, t.layers)) chosen = "Q6_K";
	}
	return fitRows(chosen, t.dims[0]!);
}

/** `type`, or its fallback when rows of `rowLength` are not whole blocks of it. */
function fitRows(type: GgmlType, rowLength: number): GgmlType {
	if (rowLength % GGML_TYPES[type].block === 0) return type;
	const next = FALLBACK[type];
	if (next !== undefined && rowLength % GGML_TYPES[next].block === 0) return next;
	return "F16";
}
