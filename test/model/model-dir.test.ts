import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { ModelErrorKind } from "../../src/errors.js";
import { ModelError } from "../../src/errors.js";
import { openModel } from "../../src/model/model-dir.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";

/** A valid safetensors file of 1-D F32 tensors, built by hand (header JSON padded to 8 bytes, then data). */
function safetensors(tensors: Record<string, number[]>): Uint8Array {
	const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
	let offset = 0;
	for (const [name, values] of Object.entries(tensors)) {
		header[name] = { dtype: "F32", shape: [values.length], data_offsets: [offset, offset + 4 * values.length] };
		offset += 4 * values.length;
	}
	let json = JSON.stringify(header);
	json += " ".repeat((8 - (json.length % 8)) % 8);
	const out = new Uint8Array(8 + json.length + offset);
	new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
	out.set(new TextEncoder().encode(json), 8);
	const data = new Float32Array(Object.values(tensors).flat());
	out.set(new Uint8Array(data.buffer), 8 + json.length);
	return out;
}

const SHARD1 = { "model.embed_tokens.weight": [1, 2, 3, 4], "model.layers.0.mlp.up_proj.weight": [5, 6] };
const SHARD2 = { "model.norm.weight": [7, 8], "lm_head.weight": [9, 10, 11, 12] };
const S1 = "model-00001-of-00002.safetensors";
const S2 = "model-00002-of-00002.safetensors";
const CONFIG = {
	architectures: ["MistralForCausalLM"],
	hidden_size: 4,
	intermediate_size: 8,
	num_hidden_layers: 1,
	num_attention_heads: 2,
	vocab_size: 1,
};

const root = useTempDir("lm-merge-modeldir-");
let counter = 0;

/** A fresh folder holding `files` (strings and bytes written as is, other values as JSON). */
async function folder(files: Record<string, string | Uint8Array | object>): Promise<string> {
	const dir = join(root(), `m${counter++}`);
	await mkdir(dir, { recursive: true });
	for (const [name, content] of Object.entries(files)) {
		const data = typeof content === "string" || content instanceof Uint8Array ? content : JSON.stringify(content);
		await writeFile(join(dir, name), data);
	}
	return dir;
}

function index(weightMap: Record<string, string>): object {
	return { metadata: { total_size: 48 }, weight_map: weightMap };
}

const GOOD_MAP = {
	"model.embed_tokens.weight": S1,
	"model.layers.0.mlp.up_proj.weight": S1,
	"model.norm.weight": S2,
	"lm_head.weight": S2,
};

async function expectKind(promise: Promise<unknown>, kind: ModelErrorKind, ...mentions: string[]): Promise<ModelError> {
	const me = await rejected(promise, ModelError);
	expect(me.kind).toBe(kind);
	expect(me.message).not.toContain("\n");
	for (const m of mentions) expect(me.message).toContain(m);
	return me;
}

describe("openModel: valid folders", () => {
	test("a single model.safetensors with config.json", async () => {
		const dir = await folder({ "model.safetensors": safetensors(SHARD1), "config.json": CONFIG });
		const m = await openModel(dir);
		try {
			expect(m.location).toBe(dir);
			expect(m.dir).toBe(dir);
			expect(m.files).toEqual([join(dir, "model.safetensors")]);
			expect(m.indexFile).toBeUndefined();
			expect(m.config?.numAttentionHeads).toBe(2);
			expect(m.totalBytes).toBe(24);
			expect(m.names()).toEqual(Object.keys(SHARD1));
			expect(m.metadata()).toEqual({ format: "pt" });
			expect([...(await m.read("model.layers.0.mlp.up_proj.weight")).data]).toEqual([5, 6]);
		} finally {
			await m.close();
		}
	});

	test("a file given directly; no config.json → config undefined", async () => {
		const dir = await folder({ "weights.safetensors": safetensors(SHARD2) });
		const m = await openModel(join(dir, "weights.safetensors"));
		expect(m.location).toBe(join(dir, "weights.safetensors"));
		expect(m.dir).toBe(dir);
		expect(m.config).toBeUndefined();
		expect(m.has("lm_head.weight")).toBe(true);
		await m.close();
	});

	test("index + shards: one source over both, in shard order", async () => {
		const dir = await folder({
			[S2]: safetensors(SHARD2),
			[S1]: safetensors(SHARD1),
			"model.safetensors.index.json": index(GOOD_MAP),
			"config.json": CONFIG,
		});
		for (const path of [dir, join(dir, "model.safetensors.index.json")]) {
			const m = await openModel(path);
			try {
				expect(m.files).toEqual([join(dir, S1), join(dir, S2)]);
				expect(m.indexFile).toBe(join(dir, "model.safetensors.index.json"));
				expect(m.names()).toEqual([...Object.keys(SHARD1), ...Object.keys(SHARD2)]);
				expect(m.fileOf("lm_head.weight")).toBe(join(dir, S2));
				expect(m.info("model.norm.weight").shape).toEqual([2]);
				expect(m.totalBytes).toBe(48);
				expect([...(await m.read("lm_head.weight")).data]).toEqual([9, 10, 11, 12]);
				expect([...(await m.readRows("model.embed_tokens.weight", 1, 3)).data]).toEqual([2, 3]);
				expect((await m.readRaw("model.norm.weight")).byteLength).toBe(8);
				expect(() => m.info("nope")).toThrow(expect.objectContaining({ kind: "TensorNotFound" }));
			} finally {
				await m.close();
			}
		}
	});
});

describe("openModel: errors name the folder, the file and the tensor", () => {
	test("NotFound", async () => {
		await expectKind(openModel(join(root(), "does-not-exist")), "NotFound", "does-not-exist");
	});

	test("AmbiguousWeights when both a single file and an index are present", async () => {
		const dir = await folder({ "model.safetensors": safetensors(SHARD1), "model.safetensors.index.json": index(GOOD_MAP) });
		await expectKind(openModel(dir), "AmbiguousWeights", dir, "model.safetensors", "model.safetensors.index.json");
	});

	test("NoWeights lists the folder and every weights file name it looks for", async () => {
		const empty = await folder({});
		await expectKind(openModel(empty), "NoWeights", empty, "empty", "model.safetensors.index.json", "pytorch_model.bin.index.json");
		const other = await folder({ "weights.ckpt": "x", "config.json": CONFIG });
		await expectKind(openModel(other), "NoWeights", "config.json", "weights.ckpt", "pytorch_model.bin");
	});

	test("MissingShard", async () => {
		const dir = await folder({ [S1]: safetensors(SHARD1), "model.safetensors.index.json": index(GOOD_MAP) });
		await expectKind(openModel(dir), "MissingShard", dir, S2, "model.norm.weight");
	});

	test.each(["../escape.safetensors", "sub/model.safetensors", "/etc/passwd", "..", "a\\b.safetensors"])(
		"ShardOutsideFolder for %j",
		async (shard) => {
			const dir = await folder({
				[S1]: safetensors(SHARD1),
				"model.safetensors.index.json": index({ ...GOOD_MAP, "lm_head.weight": shard }),
			});
			await expectKind(openModel(dir), "ShardOutsideFolder", dir, shard, "lm_head.weight");
		},
	);

	test.each([
		["Git LFS pointer", "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n", "git lfs"],
		["HTML page", "<!DOCTYPE html>\n<html><body>Sign in</body></html>", "HTML"],
		["HTML page without doctype", "  <html><head></head></html>", "HTML"],
	])("NotASafetensorsFile: a shard that is a %s", async (_what, content, says) => {
		const dir = await folder({ [S1]: safetensors(SHARD1), [S2]: content, "model.safetensors.index.json": index(GOOD_MAP) });
		await expectKind(openModel(dir), "NotASafetensorsFile", dir, S2, says, "model.norm.weight");
		const single = await folder({ "model.safetensors": content });
		await expectKind(openModel(single), "NotASafetensorsFile", single, "model.safetensors", says);
	});

	test("an index that is an LFS pointer or bad JSON → InvalidIndex", async () => {
		const lfs = await folder({ "model.safetensors.index.json": "version https://git-lfs.github.com/spec/v1\n" });
		await expectKind(openModel(lfs), "InvalidIndex", "Git LFS");
		const bad = await folder({ "model.safetensors.index.json": "{ not json" });
		await expectKind(openModel(bad), "InvalidIndex");
	});

	test("TensorNotInShard: listed in the index, absent from its shard", async () => {
		const dir = await folder({
			[S1]: safetensors(SHARD1),
			[S2]: safetensors(SHARD2),
			"model.safetensors.index.json": index({ ...GOOD_MAP, "model.extra.weight": S2 }),
		});
		await expectKind(openModel(dir), "TensorNotInShard", dir, S2, "model.extra.weight", "no shard has it");
	});

	test("TensorNotInShard: the index points at the wrong shard", async () => {
		const dir = await folder({
			[S1]: safetensors(SHARD1),
			[S2]: safetensors(SHARD2),
			"model.safetensors.index.json": index({ ...GOOD_MAP, "lm_head.weight": S1 }),
		});
		await expectKind(openModel(dir), "TensorNotInShard", dir, "lm_head.weight", `it is in ${S2}`);
	});

	test("TensorInTwoShards", async () => {
		const dir = await folder({
			[S1]: safetensors(SHARD1),
			[S2]: safetensors({ ...SHARD2, "model.embed_tokens.weight": [0] }),
			"model.safetensors.index.json": index(GOOD_MAP),
		});
		await expectKind(openModel(dir), "TensorInTwoShards", dir, S1, S2, "model.embed_tokens.weight");
	});

	test("TensorNotInIndex", async () => {
		const map: Record<string, string> = { ...GOOD_MAP };
		delete map["model.norm.weight"];
		const dir = await folder({ [S1]: safetensors(SHARD1), [S2]: safetensors(SHARD2), "model.safetensors.index.json": index(map) });
		await expectKind(openModel(dir), "TensorNotInIndex", dir, S2, "model.norm.weight");
	});

	test("a corrupt shard surfaces the reader's SafetensorsError", async () => {
		const dir = await folder({ "model.safetensors": new Uint8Array([1, 2, 3]) });
		await expect(openModel(dir)).rejects.toMatchObject({ name: "SafetensorsError" });
	});

	test("bad config.json → InvalidConfig", async () => {
		const dir = await folder({ "model.safetensors": safetensors(SHARD1), "config.json": { hidden_size: "big" } });
		await expectKind(openModel(dir), "InvalidConfig", "hidden_size");
	});
});

describe("openModel: what is not a finished model is refused", () => {
	test("an empty weight_map next to shards is InvalidIndex naming the shards and total_size, not a 0-tensor model", async () => {
		const dir = await folder({ [S1]: safetensors(SHARD1), [S2]: safetensors(SHARD2), "model.safetensors.index.json": index({}) });
		await expectKind(openModel(dir), "InvalidIndex", dir, "empty weight_map", S1, S2, "total_size", "48");
		const alone = await folder({ "model.safetensors.index.json": { metadata: {}, weight_map: {} } });
		await expectKind(openModel(alone), "InvalidIndex", "empty weight_map");
	});

	test("a shard-named file the index does not list is InvalidIndex (a stale or truncated index)", async () => {
		const map = {
			"model.embed_tokens.weight": "model-00001-of-00003.safetensors",
			"model.layers.0.mlp.up_proj.weight": "model-00001-of-00003.safetensors",
		};
		const dir = await folder({
			"model-00001-of-00003.safetensors": safetensors(SHARD1),
			"model-00002-of-00003.safetensors": safetensors(SHARD2),
			"model.safetensors.index.json": index(map),
		});
		await expectKind(openModel(dir), "InvalidIndex", "model-00002-of-00003.safetensors", "does not list");
		// Other safetensors files (Mistral repos ship consolidated.safetensors beside the shards) are not shards.
		const extra = await folder({
			[S1]: safetensors(SHARD1),
			[S2]: safetensors(SHARD2),
			"consolidated.safetensors": safetensors(SHARD1),
			"model.safetensors.index.json": index(GOOD_MAP),
		});
		const model = await openModel(extra);
		expect(model.names()).toHaveLength(4);
		await model.close();
	});

	test("a folder holding the unfinished-merge marker is UnfinishedMerge, opened as a folder or through one of its files", async () => {
		const marker = JSON.stringify({ unfinished_output: "/somewhere/merged/x" });
		const dir = await folder({ "model.safetensors": safetensors(SHARD1), ".lm-merge-unfinished": marker });
		const me = await expectKind(
			openModel(dir),
			"UnfinishedMerge",
			dir,
			"is an unfinished merge",
			"/somewhere/merged/x",
			"resume with --resume or delete it",
		);
		expect(me.location).toBe(dir);
		await expectKind(openModel(join(dir, "model.safetensors")), "UnfinishedMerge", dir);
	});

	test("a folder named like a temporary output (left by a version without the marker) is UnfinishedMerge", async () => {
		const dir = join(root(), "merged-x.partial-Ab3dE9");
		await mkdir(dir);
		await writeFile(join(dir, "model.safetensors"), safetensors(SHARD1));
		await expectKind(openModel(dir), "UnfinishedMerge", dir, "merged-x");
		// Only the exact mkdtemp shape counts: a user's folder that merely contains ".partial-" opens.
		const mine = join(root(), "notes.partial-draft");
		await mkdir(mine);
		await writeFile(join(mine, "model.safetensors"), safetensors(SHARD1));
		await (await openModel(mine)).close();
	});
});
