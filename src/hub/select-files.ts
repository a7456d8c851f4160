/**
 * Which files of a Hub repo a command needs. A selector sees the repo's file list and names what to fetch;
 * weights listed by an index are added once the index itself is in the cache. Others extend this with their
 * own selectors (a LoRA adapter needs `adapter_config.json` + `adapter_model.safetensors`).
 */
interface FileSelection {
	/** Files to fetch now (repo-relative paths). */
	files: string[];
	/** An index (`*.index.json` with a `weight_map`) whose shards are fetched after it; it is in `files` too. */
	index?: string;
}

/** Picks which of a repo's files to download (given every file path of the revision). */
export type FileSelector = (repoFiles: readonly string[]) => FileSelection;

/** Configuration and tokenizer files a merged model copies or needs, fetched when the repo has them. */
const MODEL_SIDE_FILES = [
	"config.json",
	"generation_config.json",
	"tokenizer.json",
	"tokenizer_config.json",
	"tokenizer.model",
	"special_tokens_map.json",
	"added_tokens.json",
	"vocab.json",
	"merges.txt",
	"chat_template.jinja",
] as const;

/** Weight layouts in the order transformers prefers them: safetensors before PyTorch pickles, sharded or not. */
const WEIGHT_LAYOUTS = [
	{ index: "model.safetensors.index.json", single: "model.safetensors" },
	{ index: "pytorch_model.bin.index.json", single: "pytorch_model.bin" },
] as const;

/** A PEFT LoRA adapter repo (`model+org/adapter` in a merge): its config and one weight file, safetensors first. */
const ADAPTER_CONFIG = "adapter_config.json";
const ADAPTER_WEIGHTS = ["adapter_model.safetensors", "adapter_model.bin"] as const;

/**
 * The files a merge needs: top-level config and tokenizer files, and one set of weights (the safetensors index
 * and its shards, else `model.safetensors`, else the PyTorch equivalents; in an adapter repo, the adapter's). Other top-level files
 * (`consolidated.safetensors`, `original/`, ONNX or GGUF exports) are duplicates a merge never reads, and are skipped.
 */
export const selectMergeFiles: FileSelector = (repoFiles) => {
	const present = new Set(repoFiles);
	const files: string[] = MODEL_SIDE_FILES.filter((f) => present.has(f));
	for (const layout of WEIGHT_LAYOUTS) {
		if (present.has(layout.index)) return { files: [...files, layout.index], index: layout.index };
		if (present.has(layout.single)) return { files: [...files, layout.single] };
	}
	const adapter = ADAPTER_WEIGHTS.find((f) => present.has(f));
	if (present.has(ADAPTER_CONFIG) && adapter !== undefined) return { files: [...files, ADAPTER_CONFIG, adapter] };
	return { files };
};

/** Whether a selection holds weights (an index counts: its shards follow). */
export function hasWeights(selection: FileSelection): boolean {
	return (
		selection.index !== undefined ||
		selection.files.some((f) => WEIGHT_LAYOUTS.some((l) => l.single === f) || (ADAPTER_WEIGHTS as readonly string[]).includes(f))
	);
}

/**
 * The shard files an index's `weight_map` names, sorted and without duplicates. Each must be a plain
 * file name beside the index: the Hub serves what the repo owner wrote, and a path here becomes a path on disk.
 * Returns an error message instead when the index is malformed.
 */
export function shardsOfIndex(text: string): string[] | string {
	let json: unknown;
	try {
		json = JSON.parse(text);
	} catch (err) {
		return `not valid JSON: ${(err as Error).message}`;
	}
	const map = (json as { weight_map?: unknown } | null)?.weight_map;
	if (typeof map !== "object" || map === null || Array.isArray(map)) return 'has no "weight_map" object';
	const shards = new Set<string>();
	for (const [tensor, shard] of Object.entries(map)) {
		if (typeof shard !== "string" || !isPlainName(shard))
			return `tensor "${tensor}" maps to ${JSON.stringify(shard)}, which is not a file name beside the index`;
		shards.add(shard);
	}
	return [...shards].sort();
}

function isPlainName(name: string): boolean {
	return name !== "" && name !== "." && name !== ".." && !/[/\\\0]/.test(name);
}

/**
 * Whether a repo-relative path from the Hub is safe to create under a snapshot folder: relative, no `..`
 * or empty segment, no backslash or NUL. huggingface_hub refuses the same names.
 */
export function isSafeRepoPath(path: string): boolean {
	if (path === "" || path.startsWith("/") || /[\\\0]/.test(path) || /^[A-Za-z]:/.test(path)) return false;
	return path.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..");
}
