/**
 * Plans a GGUF export from what a model folder says about itself (config.json, tokenizer files, safetensors
 * headers), reading no tensor data: which tensors go where, under which name, in which ggml type, and
 * every reason the result would not load or not behave like the source in llama.cpp.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { GgufError } from "../errors.js";
import { isFloatDtype } from "../io/dtypes.js";
import type { ModelConfig } from "../model/config.js";
import type { ModelSource } from "../model/model-source.js";
import { GGML_TYPES, type GgmlType } from "./constants.js";
import { hasCodec } from "./encode.js";
import { checkLlamaCompatible } from "./llama-metadata.js";
import { type GgufExportType, tensorTypeFor } from "./mix.js";
import { ggufTensorName, isSkippedTensor } from "./names.js";
import { type GgufVocab, ggufVocab } from "./vocab.js";

interface PlannedTensor {
	/** The Hugging Face name in the source. */
	name: string;
	ggufName: string;
	/** GGUF dims: the source shape reversed (row length first). */
	dims: number[];
	ggmlType: GgmlType;
	rotary?: "q" | "k";
	/** Bytes read from the source. */
	sourceBytes: number;
}

export interface ExportPlan {
	location: string;
	config: ModelConfig;
	vocab: GgufVocab;
	tensors: PlannedTensor[];
	readBytes: number;
	warnings: string[];
}

/** Largest tokenizer file read into memory (the biggest common ones are ~35 MB). */
export const MAX_TOKENIZER_FILE_BYTES = 128 * 2 ** 20;

async function readJson(path: string, required: boolean): Promise<unknown> {
	let size: number;
	try {
		size = (await stat(path)).size;
	} catch {
		if (required)
			throw new GgufError(
				"UnsupportedTokenizer",
				path,
				"not found: the GGUF file embeds the tokenizer, so the model folder needs its tokenizer.json",
			);
		return undefined;
	}
	if (size > MAX_TOKENIZER_FILE_BYTES)
		throw new GgufError("UnsupportedTokenizer", path, `${size} bytes is larger than the ${MAX_TOKENIZER_FILE_BYTES}-byte limit`);
	try {
		return JSON.parse(await readFile(path, "utf8")) as unknown;
	} catch (err) {
		throw new GgufError("UnsupportedTokenizer", path, `invalid JSON: ${(err as Error).message}`);
	}
}

/** Order in the file: embeddings, then each layer's tensors, then the final norm and the output. */
function sortKey(ggufName: string): [number, number, string] {
	if (ggufName === "token_embd.weight") return [0, 0, ""];
	const m = /^blk\.(\d+)\.(.+)$/.exec(ggufName);
	if (m !== null) return [1, Number(m[1]), m[2]!];
	return [2, ggufName === "output_norm.weight" ? 0 : 1, ggufName];
}

/** Checks one tensor's shape against config.json; `want` is the Hugging Face shape. */
function expectShape(where: string, name: string, shape: readonly number[], want: readonly number[]): void {
	if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) {
		throw new GgufError(
			"UnsupportedModel",
			where,
			`shape [${shape.join(", ")}] does not match config.json, which implies [${want.join(", ")}]`,
			name,
		);
	}
}

export async function planExport(source: ModelSource, type: GgufExportType): Promise<ExportPlan> {
	const where = source.dir;
	const cfg = source.config;
	if (cfg === undefined)
		throw new GgufError("UnsupportedModel", where, "no config.json: the architecture, heads and rope settings come from it");
	checkLlamaCompatible(cfg, where);
	const warnings: string[] = [];
	const names = source.names();
	const hasOutput = names.includes("lm_head.weight");
	if (!hasOutput && !cfg.tieWordEmbeddings)
		throw new GgufError("UnsupportedModel", where, "no lm_head.weight, and tie_word_embeddings is false");
	const H = cfg.hiddenSize;
	const qRows = cfg.numAttentionHeads * cfg.headDim;
	const kvRows = cfg.numKeyValueHeads * cfg.headDim;
	const embed = names.includes("model.embed_tokens.weight") ? source.info("model.embed_tokens.weight").shape : undefined;
	if (embed === undefined) throw new GgufError("UnsupportedModel", where, "no model.embed_tokens.weight");
	const vocabRows = embed[0]!;
	const shapes: Record<string, number[]> = {
		"model.embed_tokens.weight": [vocabRows, H],
		"lm_head.weight": [vocabRows, H],
		"model.norm.weight": [H],
		"input_layernorm.weight": [H],
		"post_attention_layernorm.weight": [H],
		"self_attn.q_proj.weight": [qRows, H],
		"self_attn.k_proj.weight": [kvRows, H],
		"self_attn.v_proj.weight": [kvRows, H],
		"self_attn.o_proj.weight": [H, qRows],
		"mlp.gate_proj.weight": [cfg.intermediateSize, H],
		"mlp.up_proj.weight": [cfg.intermediateSize, H],
		"mlp.down_proj.weight": [H, cfg.intermediateSize],
	};
	const tensors: PlannedTensor[] = [];
	const perLayer = new Map<number, number>();
	for (const name of names) {
		if (isSkippedTensor(name)) continue;
		const g = ggufTensorName(name);
		if (g === undefined) throw new GgufError("UnsupportedModel", where, "has no place in llama.cpp's llama architecture", name);
		const info = source.info(name);
		if (!isFloatDtype(info.dtype)) throw new GgufError("UnsupportedModel", where, `dtype ${info.dtype} is not a float type`, name);
		const want = shapes[name] ?? shapes[name.replace(/^model\.layers\.\d+\./, "")];
		if (want !== undefined) expectShape(where, name, info.shape, want);
		if (g.layer !== undefined) {
			if (g.layer >= cfg.numHiddenLayers)
				throw new GgufError("UnsupportedModel", where, `layer ${g.layer} is beyond num_hidden_layers ${cfg.numHiddenLayers}`, name);
			perLayer.set(g.layer, (perLayer.get(g.layer) ?? 0) + 1);
		}
		const dims = [...info.shape].reverse();
		const ggmlType = tensorTypeFor(type, {
			name: g.name,
			dims,
			layers: cfg.numHiddenLayers,
			hasOutput,
			...(g.layer !== undefined ? { layer: g.layer } : {}),
		});
		if (!hasCodec(ggmlType)) throw new GgufError("UnsupportedModel", where, `${ggmlType} encoding is not available`, name);
		tensors.push({
			name,
			ggufName: g.name,
			dims,
			ggmlType,
			sourceBytes: info.byteLength,
			...(g.rotary !== undefined ? { rotary: g.rotary } : {}),
		});
	}
	for (let layer = 0; layer < cfg.numHiddenLayers; layer++) {
		if (perLayer.get(layer) !== 9)
			throw new GgufError("UnsupportedModel", where, `layer ${layer} has ${perLayer.get(layer) ?? 0} of its 9 weight tensors`);
	}
	if (!names.includes("model.norm.weight")) throw new GgufError("UnsupportedModel", where, "no model.norm.weight");
	tensors.sort((a, b) => {
		const [x, y] = [sortKey(a.ggufName), sortKey(b.ggufName)];
		return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
	});

	const tokenizerJson = await readJson(join(source.dir, "tokenizer.json"), true);
	const tokenizerConfig = await readJson(join(source.dir, "tokenizer_config.json"), false);
	const vocab = ggufVocab(tokenizerJson, tokenizerConfig, vocabRows, join(source.dir, "tokenizer.json"));
	if (vocabRows !== cfg.vocabSize)
		warnings.push(`config.json says vocab_size ${cfg.vocabSize}, the embedding has ${vocabRows} rows: the GGUF uses ${vocabRows}`);
	if (!vocab.byteFallback)
		warnings.push(
			"the tokenizer has no byte fallback: llama.cpp cannot tokenize characters outside its vocabulary " +
				"(Hugging Face maps them to the unknown token)",
		);
	if (vocab.inconsistent.length > 0) {
		const shown = vocab.inconsistent
			.slice(0, 3)
			.map((t) => JSON.stringify(t))
			.join(", ");
		warnings.push(
			`${vocab.inconsistent.length} token(s) can be built by llama.cpp's merge-by-score but not by tokenizer.json's merges (${shown}): ` +
				`llama.cpp may tokenize text containing them differently`,
		);
	}
	if (
		cfg.slidingWindow !== null &&
		cfg.slidingWindow < (typeof cfg.raw.max_position_embeddings === "number" ? cfg.raw.max_position_embeddings : Infinity)
	) {
		warnings.push(
			`sliding_window ${cfg.slidingWindow} is recorded, but llama.cpp's llama architecture attends over the whole context: ` +
				`prompts longer than ${cfg.slidingWindow} tokens will differ from the source model`,
		);
	}
	const fallback = tensors.filter(
		(t) => t.dims.length > 1 && GGML_TYPES[t.ggmlType].block === 1 && type !== "f32" && type !== "f16" && type !== "bf16",
	);
	if (fallback.length > 0)
		warnings.push(
			`${fallback.length} matrix/matrices have rows of a length no ${type} block fits ` +
				`(e.g. ${fallback[0]!.name}, ${fallback[0]!.dims[0]} values per row): written as F16`,
		);
	return { location: where, config: cfg, vocab, tensors, readBytes: tensors.reduce((n, t) => n + t.sourceBytes, 0), warnings };
}
