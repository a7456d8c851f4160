/**
 * The one interface every evaluation backend implements: token ids in (with a prefix all requests share),
 * log-probabilities over the vocabulary at the requested positions out. The protocol code above it (prompts,
 * tokenizer, shots, scoring, ECE, ensembles, harness mode) never sees which backend ran, so a new backend is
 * one file implementing `ForwardBackend` plus one entry in `registry.ts`.
 */

/** The backends `merge eval --backend` can pick. */
export type BackendName = "tfjs" | "llama";

/** Hardware, the vocabulary every lm-merge command shares: auto, cpu, cuda (alias gpu), vulkan. */
export type HardwareDevice = "auto" | "cpu" | "cuda" | "vulkan";

/** Weight formats a GGUF-based backend can score (`f32` is the exact mode: F32 weights, F32 KV cache, no flash attention). */
export const QUANT_TYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"] as const;
export type QuantType = (typeof QUANT_TYPES)[number];

export function isQuantType(s: string): s is QuantType {
	return (QUANT_TYPES as readonly string[]).includes(s);
}

/** What actually ran, for reports and logs. */
export interface BackendInfo {
	backend: BackendName;
	/** The hardware that ran, as the backend reports it: "cpu", "cuda", "vulkan". */
	device: string;
	/** Implementation details for humans: "wasm (SIMD, 1 thread)", "llama.cpp b4xxx, 2 threads". */
	detail: string;
	/** The weight format scored: a quant type for GGUF backends, "float32" for tfjs (it decodes every dtype to f32). */
	quant: string;
	/** The file actually scored (the GGUF for llama, the model folder for tfjs). */
	weights: string;
	/** Size in bytes of the scored weights on disk. */
	weightBytes: number;
}

/** One sequence to run and the positions whose next-token distribution is wanted. */
export interface ForwardRequest {
	tokens: readonly number[];
	/** Indices into `tokens`, ascending; position p yields log P(· | tokens[0..p]). */
	positions: readonly number[];
}

/** How a batch of requests runs: the shared prefix, cancellation, and where each result goes. */
export interface ForwardOptions {
	/** Tokens most requests start with; a backend may compute them once and reuse their keys and values. */
	sharedPrefix?: readonly number[];
	/** Stop between requests once aborted (results delivered so far stay delivered). */
	signal?: AbortSignal;
	/**
	 * Receives each request's result as soon as it is computed, in any order: one row per requested position,
	 * each `vocabSize` log-probabilities (natural log; −Infinity for a token of probability 0).
	 */
	onResult(index: number, rows: Float32Array[]): void;
}

/** A loaded model on one backend. */
export interface ForwardBackend {
	readonly info: BackendInfo;
	/** Rows delivered by `logprobs` have this many entries. */
	readonly vocabSize: number;
	/** The longest sequence it accepts (the model's max_position_embeddings unless overridden). */
	readonly maxTokens: number;
	/** Runs the requests and hands each one's next-token log-probabilities to `opts.onResult`. */
	logprobs(requests: readonly ForwardRequest[], opts: ForwardOptions): Promise<void>;
	/** Frees the model (native memory, tensors). */
	dispose(): Promise<void>;
}

/** How to load a model on a backend. */
export interface BackendLoadOptions {
	device?: HardwareDevice;
	/** GGUF backends: the weight format (default f32, the exact mode). */
	quant?: QuantType;
	/** Overrides max_position_embeddings as the longest accepted sequence. */
	maxTokens?: number;
	/** CPU threads (GGUF backends; tfjs-wasm is single-threaded in Node). */
	threads?: number;
	/** Folder where converted GGUF files are kept (default: see gguf-cache.ts). */
	cacheDir?: string;
	/** Prompts per forward batch. */
	batch?: number;
	/** tfjs only: the tfjs implementation, overriding what `device` picks ("wasm", "node", "cpu" = plain JS kernels, "gpu"). */
	tfjsDevice?: "auto" | "cpu" | "wasm" | "node" | "gpu";
	/** tfjs only: layer streaming (true, false or "auto"). */
	streaming?: boolean | "auto";
	/** Progress of slow preparation steps (a GGUF conversion), as plain messages. */
	onNote?: (message: string) => void;
	/** Stops a slow preparation step (a GGUF conversion). */
	signal?: AbortSignal;
}

/** Loads a model folder (or a .gguf file, for GGUF backends) on one backend. */
export type BackendLoader = (model: string, opts: BackendLoadOptions) => Promise<ForwardBackend>;
