/**
 * `model.safetensors.index.json`, the table of contents of a sharded model:
 * `{"metadata": {"total_size": N, ...}, "weight_map": {"tensor name": "shard file name", ...}}`.
 * readIndexJson validates the shape (shard names are checked against the folder by the model-folder code);
 * formatIndexJson writes it the way Hugging Face and mergekit do (indent 2, weight_map in output order).
 */
import { readFile, stat } from "node:fs/promises";
import { LmMergeError, ModelError } from "../errors.js";
import { type JsonValue, parseStrictJson } from "./header-json.js";

/** File name of the index in a sharded model folder. */
export const INDEX_FILE_NAME = "model.safetensors.index.json";

/**
 * Largest index file read. It lists the same tensors as the shard headers, so it gets the same order
 * of limit as a header (100 MB); anything bigger is not an index and is refused before reading it.
 */
const MAX_INDEX_JSON_BYTES = 100_000_000;

/** The validated content of an index file (wire names kept, as in the file). */
interface IndexJson {
	/** `metadata` (empty when absent); `total_size`, when present, is a non-negative number. */
	metadata: { total_size?: number; [key: string]: unknown };
	/** Tensor name → shard file name, in file order (a null-prototype object: any tensor name is safe). */
	weight_map: Record<string, string>;
}

/**
 * Reads and validates an index file. Throws ModelError kind "NotFound" when it does not exist and
 * "InvalidIndex" (naming the file and the key) for unreadable files, bad JSON, a missing or malformed
 * `weight_map`, a tensor listed twice, or a `total_size` that is not a non-negative number.
 */
export async function readIndexJson(path: string): Promise<IndexJson> {
	let text: string;
	try {
		const info = await stat(path);
		if (!info.isFile()) {
			throw new ModelError("InvalidIndex", path, "is not a regular file");
		}
		if (info.size > MAX_INDEX_JSON_BYTES) {
			throw new ModelError("InvalidIndex", path, `is ${info.size} bytes, above the ${MAX_INDEX_JSON_BYTES}-byte limit for an index file`);
		}
		text = await readFile(path, "utf8");
	} catch (err) {
		if (err instanceof ModelError) throw err;
		const code = (err as NodeJS.ErrnoException).code;
		const detail = err instanceof Error ? err.message : String(err);
		throw new ModelError(code === "ENOENT" ? "NotFound" : "InvalidIndex", path, `cannot read the index: ${detail}`);
	}
	return parseIndexJson(text, path);
}

/** Validates the text of an index file; `file` is named in errors. See readIndexJson. */
export function parseIndexJson(text: string, file: string): IndexJson {
	let root: JsonValue;
	try {
		root = parseStrictJson(text.replace(/^\uFEFF/, ""), file);
	} catch (err) {
		const detail =
			err instanceof LmMergeError ? err.message.replace(`${file}: `, "").replace("header is not valid JSON ", "") : String(err);
		throw new ModelError("InvalidIndex", file, `not valid JSON: ${detail}`);
	}
	if (root.type !== "object") {
		throw new ModelError("InvalidIndex", file, `the index must be a JSON object, got ${root.type}`);
	}
	const metadata: IndexJson["metadata"] = {};
	const weightMap: Record<string, string> = Object.create(null) as Record<string, string>;
	let sawWeightMap = false;
	for (const [key, value] of root.entries) {
		if (key === "weight_map") {
			if (value.type !== "object") {
				throw new ModelError("InvalidIndex", file, `"weight_map" must be an object of tensor name → shard file, got ${value.type}`);
			}
			sawWeightMap = true;
			for (const [tensor, shard] of value.entries) {
				if (shard.type !== "string" || shard.value === "") {
					throw new ModelError("InvalidIndex", file, `weight_map["${tensor}"] must be a shard file name, got ${describe(shard)}`);
				}
				if (Object.hasOwn(weightMap, tensor)) {
					throw new ModelError("InvalidIndex", file, `weight_map lists tensor "${tensor}" twice`);
				}
				weightMap[tensor] = shard.value;
			}
		} else if (key === "metadata") {
			if (value.type === "null") continue;
			if (value.type !== "object") {
				throw new ModelError("InvalidIndex", file, `"metadata" must be an object, got ${value.type}`);
			}
			for (const [name, v] of value.entries) {
				Object.defineProperty(metadata, name, { value: toPlain(v), enumerable: true, writable: true, configurable: true });
			}
			const total = metadata.total_size;
			if (total !== undefined && (typeof total !== "number" || !Number.isFinite(total) || total < 0)) {
				throw new ModelError(
					"InvalidIndex",
					file,
					`metadata.total_size must be a non-negative number, got ${describe(value.entries.find(([n]) => n === "total_size")![1])}`,
				);
			}
		}
	}
	if (!sawWeightMap) {
		throw new ModelError("InvalidIndex", file, `no "weight_map" key: not a safetensors index`);
	}
	return { metadata, weight_map: weightMap };
}

/**
 * The text of an index file: `{"metadata": {"total_size": totalSize, ...extraMetadata}, "weight_map": …}`
 * indented by 2, with weight_map entries in the given order, and a final newline.
 */
export function formatIndexJson(
	totalSize: number,
	weightMap: ReadonlyMap<string, string> | Record<string, string>,
	extraMetadata: Record<string, unknown> = {},
): string {
	const metadata = JSON.stringify({ total_size: totalSize, ...extraMetadata }, null, 2).replace(/\n/g, "\n  ");
	// Built by hand, not JSON.stringify(object): objects list integer-like keys ("0", "12") first.
	const pairs = weightMap instanceof Map ? [...weightMap] : Object.entries(weightMap);
	const lines = pairs.map(([tensor, shard]) => `    ${JSON.stringify(tensor)}: ${JSON.stringify(shard)}`);
	const map = lines.length === 0 ? "{}" : `{\n${lines.join(",\n")}\n  }`;
	return `{\n  "metadata": ${metadata},\n  "weight_map": ${map}\n}\n`;
}

function toPlain(v: JsonValue): unknown {
	switch (v.type) {
		case "object":
			return Object.fromEntries(v.entries.map(([k, x]) => [k, toPlain(x)]));
		case "array":
			return v.items.map(toPlain);
		case "number":
			return Number(v.lexeme);
		case "null":
			return null;
		default:
			return v.value;
	}
}

function describe(v: JsonValue): string {
	return v.type === "number" ? v.lexeme : v.type === "string" ? JSON.stringify(v.value) : v.type;
}
