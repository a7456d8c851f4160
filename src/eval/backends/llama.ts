import { stat } from "node:fs/promises";
import { EvaluationError, GgufError } from "../../errors.js";
import { LLAMA_FILE_TYPES } from "../../gguf/constants.js";
import { openGguf } from "../../gguf/reader.js";
import { modelName } from "../model-name.js";
import { cachedGguf, ggufCacheDir } from "./gguf-cache.js";
import { deviceOf, type Llama, llamaFor, llamaLogTail, NODE_LLAMA_CPP_VERSION } from "./llama-runtime.js";
import type { BackendLoadOptions, ForwardBackend, ForwardOptions, ForwardRequest, QuantType } from "./types.js";

/**
 * The llama.cpp backend (node-llama-cpp): scores a GGUF file, converting a safetensors model into the GGUF
 * cache first. `f32` is the exact mode: F32 weights, F32 KV cache, no flash attention (agrees with the tfjs
 * forward pass to ~1e-5 in log-probability); the other formats trade that for speed and size.
 */

type LlamaModel = Awaited<ReturnType<Llama["loadModel"]>>;
type LlamaContext = Awaited<ReturnType<LlamaModel["createContext"]>>;
type Sequence = ReturnType<LlamaContext["getSequence"]>;

/** The smallest context created; contexts grow in powers of two as longer prompts arrive. */
const MIN_CONTEXT = 512;

/** What a GGUF file says about itself (read with our own reader: a bad file fails here, not in native code). */
async function describeGguf(path: string): Promise<{ quant: string; vocab: number; contextLength: number | undefined }> {
	const f = await openGguf(path);
	try {
		const num = (key: string): number | undefined => {
			const v = f.metadata.get(key);
			return v !== undefined && typeof v.value === "number" ? v.value : undefined;
		};
		const arch = f.metadata.get("general.architecture")?.value;
		if (arch !== "llama")
			throw new GgufError(
				"UnsupportedModel",
				path,
				`architecture ${JSON.stringify(arch)}: the llama backend scores llama-architecture files (Mistral, Llama)`,
			);
		const fileType = num("general.file_type");
		const quant = (Object.entries(LLAMA_FILE_TYPES).find(([, id]) => id === fileType)?.[0] ?? `file type ${fileType ?? "?"}`) as string;
		const tokens = f.metadata.get("tokenizer.ggml.tokens");
		const vocab = num("llama.vocab_size") ?? (tokens?.kind === "array" ? tokens.value.length : undefined);
		if (vocab === undefined)
			throw new GgufError("InvalidMetadata", path, "neither llama.vocab_size nor tokenizer.ggml.tokens: the vocabulary size is unknown");
		return { quant, vocab, contextLength: num("llama.context_length") };
	} finally {
		await f.close();
	}
}

function lengthOfCommonPrefix(a: readonly number[], b: readonly number[]): number {
	const n = Math.min(a.length, b.length);
	let i = 0;
	while (i < n && a[i] === b[i]) i++;
	return i;
}

class LlamaBackend implements ForwardBackend {
	private context: LlamaContext | undefined;
	private seq: Sequence | undefined;
	/** Tokens whose keys and values the sequence holds (what a next request can reuse). */
	private held: number[] = [];

	constructor(
		readonly info: ForwardBackend["info"],
		readonly vocabSize: number,
		readonly maxTokens: number,
		private readonly model: LlamaModel,
		private readonly exact: boolean,
		private readonly threads: number | undefined,
	) {}

	/** A context holding at least `tokens` (re-created, larger, when a longer prompt comes). */
	private async sequenceFor(tokens: number): Promise<Sequence> {
		if (this.seq !== undefined && this.context !== undefined && this.context.contextSize >= tokens) return this.seq;
		await this.context?.dispose();
		let size = MIN_CONTEXT;
		while (size < tokens) size *= 2;
		size = Math.min(size, Math.max(tokens, this.maxTokens));
		try {
			this.context = await this.model.createContext({
				contextSize: size,
				batchSize: Math.min(size, 2048),
				sequences: 1,
				flashAttention: !this.exact,
				...(this.exact ? { experimentalKvCacheKeyType: "F32" as const, experimentalKvCacheValueType: "F32" as const } : {}),
				...(this.threads !== undefined ? { threads: this.threads } : {}),
			});
		} catch (err) {
			throw new EvaluationError(
				"Backend",
				`${this.info.weights}: llama.cpp could not create a ${size}-token context: ${(err as Error).message} ${llamaLogTail()}`.trim(),
			);
		}
		this.seq = this.context.getSequence();
		this.held = [];
		return this.seq;
	}

	/** Runs one request, reusing the longest prefix already in the KV cache that ends before its first output. */
	private async run(r: ForwardRequest): Promise<Float32Array[]> {
		// One spare cell: a sequence that fills its context exactly is shifted (its first tokens dropped) to make
		// room for the next token that generateNext implies, which silently changes the result.
		const seq = await this.sequenceFor(r.tokens.length + 1);
		const keep = Math.min(lengthOfCommonPrefix(this.held, r.tokens), r.positions[0] ?? 0);
		if (seq.nextTokenIndex > keep) await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
		this.held = r.tokens.slice(0, keep) as number[];
		const wanted = new Set(r.positions);
		const input = r.tokens
			.slice(keep)
			.map((t, k) => (wanted.has(keep + k) ? ([t, { generateNext: { probabilities: true } }] as const) : t));
		const results = await seq.controlledEvaluate(input as never);
		this.held = [...r.tokens];
		return r.positions.map((p) => {
			const probs = results[p - keep]?.next.probabilities;
			if (probs === undefined)
				throw new EvaluationError("Backend", `${this.info.weights}: llama.cpp returned no probabilities for position ${p}`);
			const row = new Float32Array(this.vocabSize).fill(-Infinity);
			for (const [token, prob] of probs) if ((token as number) < row.length) row[token as number] = Math.log(prob);
			return row;
		});
	}

	async logprobs(requests: readonly ForwardRequest[], opts: ForwardOptions): Promise<void> {
		for (const [i, r] of requests.entries()) {
			if (opts.signal?.aborted === true) return;
			if (r.tokens.length > this.maxTokens)
				throw new EvaluationError("Data", `request ${i}: ${r.tokens.length} tokens, more than the ${this.maxTokens} the model takes`);
			opts.onResult(i, await this.run(r));
		}
	}

	async dispose(): Promise<void> {
		await this.context?.dispose();
		this.context = undefined;
		this.seq = undefined;
		await this.model.dispose();
	}
}

/** Weight files below this size run on one thread unless `threads` says otherwise (see loadLlamaBackend()). */
const SINGLE_THREAD_BELOW_BYTES = 32 * 1024 * 1024;

/**
 * Loads a model on llama.cpp: a `.gguf` file as is, a safetensors model through the GGUF cache in weight
 * format `opts.quant` (default f32, the exact mode).
 */
export async function loadLlamaBackend(model: string, opts: BackendLoadOptions): Promise<ForwardBackend> {
	const isGguf = model.endsWith(".gguf");
	let path = model;
	if (!isGguf) {
		const quant: QuantType = opts.quant ?? "f32";
		path = await cachedGguf(model, quant, {
			cacheDir: ggufCacheDir(opts.cacheDir),
			name: modelName(model),
			...(opts.onNote !== undefined ? { onNote: opts.onNote } : {}),
			...(opts.signal !== undefined ? { signal: opts.signal } : {}),
		});
	}
	const meta = await describeGguf(path);
	if (isGguf && opts.quant !== undefined && opts.quant !== meta.quant) {
		throw new EvaluationError(
			"Config",
			`${model} is ${meta.quant}, not ${opts.quant}: --quant converts safetensors models; pass the model folder, or drop --quant`,
		);
	}
	const device = opts.device ?? "auto";
	const llama = await llamaFor(device);
	let m: LlamaModel;
	try {
		m = await llama.loadModel({ modelPath: path, ...(device === "cpu" ? { gpuLayers: 0 } : {}) });
	} catch (err) {
		throw new EvaluationError(
			"Backend",
			`${path}: llama.cpp could not load it: ${(err as Error).message.split("\n")[0]} ${llamaLogTail()}`.trim(),
		);
	}
	const exact = meta.quant === "f32";
	const weightBytes = (await stat(path)).size;
	// llama.cpp splits every op across its threads with a barrier after each; on a small model the ops are too
	// short to gain from that, and when the cores are busy (tests, other jobs) each barrier waits for a thread
	// the OS has parked: a 2.4 MB test model scored 398 tokens in 40 s on 2 threads, 0.6 s on 1.
	const threads = opts.threads ?? (weightBytes < SINGLE_THREAD_BELOW_BYTES ? 1 : undefined);
	const ran = deviceOf(llama, m.gpuLayers);
	const where =
		ran !== "cpu"
			? `, ${m.gpuLayers} layers offloaded`
			: `, ${threads ?? llama.cpuMathCores} thread${(threads ?? llama.cpuMathCores) === 1 ? "" : "s"}`;
	const cache = exact ? "exact mode: F32 KV cache, no flash attention" : "F16 KV cache, flash attention";
	const detail = `llama.cpp (node-llama-cpp ${NODE_LLAMA_CPP_VERSION}) on ${ran}${where}, ${cache}`;
	return new LlamaBackend(
		{ backend: "llama", device: ran, detail, quant: meta.quant, weights: path, weightBytes },
		meta.vocab,
		opts.maxTokens ?? meta.contextLength ?? Number.MAX_SAFE_INTEGER,
		m,
		exact,
		threads,
	);
}
