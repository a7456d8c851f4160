import { readdir, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { ModelError } from "../errors.js";
import { unfinishedOutputOf } from "../io/atomic-output.js";
import { readIndexJson } from "../io/index-json.js";
import { openSafetensors } from "../io/reader.js";
import { openTorchBin } from "../io/torch-bin/torch-bin-file.js";
import type { TensorSource } from "../io/types.js";
import { readConfigFile } from "./config.js";
import { type ModelSource, MultiFileSource } from "./model-source.js";
import { sniffImpostor, sniffWeightFormat } from "./sniff.js";

export type { ModelSource } from "./model-source.js";

/** The single-file weights name transformers writes. */
const SINGLE_WEIGHTS_FILE = "model.safetensors";

/** The shard index name transformers writes next to `model-0000i-of-0000n.safetensors`. */
const INDEX_FILE = "model.safetensors.index.json";

/** The single-file PyTorch weights name transformers writes (read when a folder has no safetensors weights). */
const BIN_WEIGHTS_FILE = "pytorch_model.bin";

/** The index of sharded PyTorch weights (`pytorch_model-0000i-of-0000n.bin`); same layout as the safetensors index. */
const BIN_INDEX_FILE = "pytorch_model.bin.index.json";

/** How many folder entries a "no weights" message lists before "…"; enough to see what is there. */
const MAX_LISTED_FILES = 20;

/** The shard names transformers and mergekit write next to an index (`model-00001-of-00003.safetensors`). */
const SHARD_NAME = /^model-\d+-of-\d+\.safetensors$/;

/**
 * Refuses (ModelError "UnfinishedMerge") a folder that is an unfinished merge (see io/atomic-output.ts): its files
 * may be zero-filled where tensors were not written yet, so no reader may take it for a model. openModel calls
 * it; readers that open other files of a model first (the evaluator's tokenizer) call it themselves.
 */
export async function assertFinishedModel(dir: string): Promise<void> {
	const out = await unfinishedOutputOf(dir);
	if (out !== undefined) {
		const target = out !== dir ? `; its output would be ${out}` : "";
		throw new ModelError("UnfinishedMerge", dir, `is an unfinished merge (resume with --resume or delete it)${target}`);
	}
}

/**
 * Opens a model: a weight file (safetensors or PyTorch `.bin`), or a folder holding `model.safetensors` or
 * `model.safetensors.index.json` + shards, else `pytorch_model.bin` or `pytorch_model.bin.index.json` + shards
 * (safetensors win when both are there, as in transformers). Every header (or pickle) is read and checked against
 * the index before this returns, so later reads cannot hit a missing tensor. Throws ModelError naming folder, file,
 * tensor; a `.bin` file that cannot be read safely throws TorchBinError.
 */
export async function openModel(pathOrFile: string): Promise<ModelSource> {
	const path = resolve(pathOrFile);
	let isDir: boolean;
	try {
		isDir = (await stat(path)).isDirectory();
	} catch {
		throw new ModelError("NotFound", path, "no such file or folder");
	}
	await assertFinishedModel(isDir ? path : dirname(path));
	if (!isDir && basename(path) === INDEX_FILE) return openSharded(dirname(path), INDEX_FILE);
	if (!isDir && basename(path) === BIN_INDEX_FILE) return openSharded(dirname(path), BIN_INDEX_FILE);
	if (!isDir) {
		const dir = dirname(path);
		const { config, raw } = await readConfigFile(dir);
		return new MultiFileSource(path, dir, [await openWeightFile(path, dir)], undefined, config, raw);
	}
	const entries = (await readdir(path)).sort();
	const hasSingle = entries.includes(SINGLE_WEIGHTS_FILE);
	const hasIndex = entries.includes(INDEX_FILE);
	if (hasSingle && hasIndex) {
		throw new ModelError(
			"AmbiguousWeights",
			path,
			`has both ${SINGLE_WEIGHTS_FILE} and ${INDEX_FILE}; remove the one that is stale (or open ${SINGLE_WEIGHTS_FILE} directly)`,
		);
	}
	if (hasSingle) {
		const { config, raw } = await readConfigFile(path);
		return new MultiFileSource(path, path, [await openWeightFile(join(path, SINGLE_WEIGHTS_FILE), path)], undefined, config, raw);
	}
	if (hasIndex) return openSharded(path, INDEX_FILE);
	const hasBin = entries.includes(BIN_WEIGHTS_FILE);
	const hasBinIndex = entries.includes(BIN_INDEX_FILE);
	if (hasBin && hasBinIndex) {
		throw new ModelError(
			"AmbiguousWeights",
			path,
			`has both ${BIN_WEIGHTS_FILE} and ${BIN_INDEX_FILE}; remove the one that is stale (or open ${BIN_WEIGHTS_FILE} directly)`,
		);
	}
	if (hasBin) {
		const { config, raw } = await readConfigFile(path);
		return new MultiFileSource(path, path, [await openWeightFile(join(path, BIN_WEIGHTS_FILE), path)], undefined, config, raw);
	}
	if (hasBinIndex) return openSharded(path, BIN_INDEX_FILE);
	throw new ModelError("NoWeights", path, noWeightsMessage(entries));
}

function noWeightsMessage(entries: string[]): string {
	const listed =
		entries.length === 0
			? "the folder is empty"
			: `it has: ${entries.slice(0, MAX_LISTED_FILES).join(", ")}${entries.length > MAX_LISTED_FILES ? ", …" : ""}`;
	return `no ${SINGLE_WEIGHTS_FILE}, ${INDEX_FILE}, ${BIN_WEIGHTS_FILE} or ${BIN_INDEX_FILE}; ${listed}`;
}

/** File names read as PyTorch checkpoints whatever their first bytes (so a damaged one gets the `.bin` reader's error). */
const TORCH_FILE_RE = /\.(bin|pt|pth)$/;

/**
 * Opens one weight file after checking it is not a Git LFS pointer or an HTML page: a PyTorch checkpoint when its
 * name ends in `.bin`/`.pt`/`.pth` or its bytes start like torch.save output (a zip or a pickle), else safetensors.
 */
async function openWeightFile(file: string, dir: string, tensor?: string): Promise<TensorSource> {
	const impostor = await sniffImpostor(file);
	if (impostor !== undefined) {
		const forTensor = tensor !== undefined ? ` (the shard for tensor "${tensor}")` : "";
		throw new ModelError("NotASafetensorsFile", dir, `${basename(file)}${forTensor} ${impostor}`);
	}
	const torch = TORCH_FILE_RE.test(file) || (await sniffWeightFormat(file)) === "torch";
	return torch ? openTorchBin(file) : openSafetensors(file);
}

/** A shard name must be a plain file name inside the folder: no separators, no `..`, not absolute. */
function isPlainFileName(name: string): boolean {
	return (
		name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\\") && !isAbsolute(name) && !name.includes("\0")
	);
}

async function openSharded(dir: string, indexName: string): Promise<ModelSource> {
	const indexPath = join(dir, indexName);
	const impostor = await sniffImpostor(indexPath);
	if (impostor !== undefined) throw new ModelError("InvalidIndex", dir, `${indexName} ${impostor}`);
	const index = await readIndexJson(indexPath);
	const weightMap = Object.entries(index.weight_map);
	await checkIndexCoverage(dir, weightMap, index.metadata.total_size);

	// The shards the index names, each with the first tensor that maps to it (for messages).
	const firstTensor = new Map<string, string>();
	for (const [tensor, shard] of weightMap) {
		if (!isPlainFileName(shard)) {
			throw new ModelError(
				"ShardOutsideFolder",
				dir,
				`${indexName}: tensor "${tensor}" maps to "${shard}", which is not a plain file name in the folder`,
			);
		}
		if (!firstTensor.has(shard)) firstTensor.set(shard, tensor);
	}
	const shardNames = [...firstTensor.keys()].sort();
	for (const shard of shardNames) {
		const exists = await stat(join(dir, shard)).then(
			(s) => s.isFile(),
			() => false,
		);
		if (!exists) {
			throw new ModelError(
				"MissingShard",
				dir,
				`${indexName} lists ${shard} (for tensor "${firstTensor.get(shard)}"), but the file is missing`,
			);
		}
	}

	const { config, raw } = await readConfigFile(dir);
	const opened: TensorSource[] = [];
	try {
		for (const shard of shardNames) opened.push(await openWeightFile(join(dir, shard), dir, firstTensor.get(shard)));
		checkAgainstIndex(dir, indexName, weightMap, shardNames, opened);
		return new MultiFileSource(dir, dir, opened, indexPath, config, raw);
	} catch (err) {
		await Promise.allSettled(opened.map((s) => s.close()));
		throw err;
	}
}

/**
 * An index must list tensors, and every shard-named file of the folder: a `weight_map` of `{}` next to shards, or
 * one that forgets a shard, would open as a model missing those tensors (the index is stale or truncated).
 */
async function checkIndexCoverage(dir: string, weightMap: Array<[string, string]>, totalSize: number | undefined): Promise<void> {
	const listed = new Set(weightMap.map(([, shard]) => shard));
	const unlisted = (await readdir(dir)).filter((n) => SHARD_NAME.test(n) && !listed.has(n)).sort();
	const size = totalSize !== undefined ? ` (its metadata.total_size says ${totalSize} bytes)` : "";
	if (weightMap.length === 0) {
		const shards =
			unlisted.length > 0
				? `, while the folder holds ${unlisted.slice(0, MAX_LISTED_FILES).join(", ")}${unlisted.length > MAX_LISTED_FILES ? ", …" : ""}`
				: "";
		throw new ModelError("InvalidIndex", dir, `${INDEX_FILE} has an empty weight_map: it lists no tensor${size}${shards}`);
	}
	if (unlisted.length > 0) {
		throw new ModelError(
			"InvalidIndex",
			dir,
			`${INDEX_FILE} does not list ${unlisted.join(", ")}, which the folder holds: the index is stale or incomplete`,
		);
	}
}

/** Every indexed tensor is in its shard, no tensor is in two shards, no shard holds an unindexed tensor. */
function checkAgainstIndex(
	dir: string,
	indexName: string,
	weightMap: Array<[string, string]>,
	shardNames: string[],
	shards: TensorSource[],
): void {
	const holder = new Map<string, string>();
	shards.forEach((file, i) => {
		const shard = shardNames[i] ?? file.location;
		for (const tensor of file.names()) {
			const other = holder.get(tensor);
			if (other !== undefined) {
				throw new ModelError("TensorInTwoShards", dir, `tensor "${tensor}" is in both ${other} and ${shard}`);
			}
			holder.set(tensor, shard);
		}
	});
	const indexed = new Map(weightMap);
	for (const [tensor, shard] of weightMap) {
		if (holder.get(tensor) !== shard) {
			const actual = holder.get(tensor);
			const where = actual === undefined ? "no shard has it" : `it is in ${actual}`;
			throw new ModelError("TensorNotInShard", dir, `${indexName} puts tensor "${tensor}" in ${shard}, but ${where}`);
		}
	}
	for (const [tensor, shard] of holder) {
		if (!indexed.has(tensor)) {
			throw new ModelError("TensorNotInIndex", dir, `${shard} holds tensor "${tensor}", which ${indexName} does not list`);
		}
	}
}
