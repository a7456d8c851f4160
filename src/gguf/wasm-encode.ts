/**
 * The export's encoders on this thread's WebAssembly arena (native/gguf-quant.c, and kernels.c's bf16 encoder): the
 * same bytes as the TypeScript encoders of encode.ts, which stay the oracle. The compiled ones run when the values
 * and the output lie in the arena; for a type without one, for arrays elsewhere, and for values outside their domain
 * (NaN, ±Inf, magnitudes ≥ 2^16), the TypeScript encoder writes the bytes.
 */
import type { KernelExports, WasmArena } from "../wasm/kernels.js";
import { GGML_TYPES, type GgmlType } from "./constants.js";
import { encodeRows } from "./encode.js";

/** A compiled encoder: `n` values at byte offset `src` → bytes at `dst`; 0 when done, else the oracle must run. */
type CompiledEncoder = (k: KernelExports, src: number, dst: number, n: number) => number;

const COMPILED: Partial<Record<GgmlType, CompiledEncoder>> = {
	F16: (k, s, d, n) => {
		k.encode_f16(s, d, n);
		return 0;
	},
	BF16: (k, s, d, n) => {
		k.encode_bf16(s, d, n);
		return 0;
	},
	Q8_0: (k, s, d, n) => k.encode_q8_0(s, d, n / 32),
	Q4_0: (k, s, d, n) => k.encode_q4_0(s, d, n / 32),
	Q4_K: (k, s, d, n) => k.encode_q4_k(s, d, n / 256),
	Q5_K: (k, s, d, n) => k.encode_q5_k(s, d, n / 256),
	Q6_K: (k, s, d, n) => k.encode_q6_k(s, d, n / 256),
};

/** Whether `type` has a compiled encoder. */
export function hasCompiledEncoder(type: GgmlType): boolean {
	return COMPILED[type] !== undefined;
}

/**
 * Encodes `src` (whole blocks of `type`) into `out` (exactly its encoded length) with the compiled encoder when it
 * can, else with the TypeScript one. Returns which ran.
 */
export function encodeInArena(arena: WasmArena | undefined, type: GgmlType, src: Float32Array, out: Uint8Array): "wasm" | "ts" {
	const compiled = COMPILED[type];
	const element = GGML_TYPES[type].block === 1 ? GGML_TYPES[type].bytes : 1;
	if (
		compiled &&
		arena?.holds(src) &&
		arena.holds(out) &&
		out.byteOffset % element === 0 &&
		src.length % GGML_TYPES[type].block === 0 &&
		out.byteLength === (src.length / GGML_TYPES[type].block) * GGML_TYPES[type].bytes &&
		compiled(arena.k, src.byteOffset, out.byteOffset, src.length) === 0
	) {
		return "wasm";
	}
	encodeRows(type, src, out);
	return "ts";
}
