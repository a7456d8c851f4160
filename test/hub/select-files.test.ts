import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { RepoCache } from "../../src/hub/cache-layout.js";
import { isCommitHash, parseHfRef } from "../../src/hub/repo-id.js";
import { isSafeRepoPath, selectMergeFiles, shardsOfIndex } from "../../src/hub/select-files.js";
import { hubEndpoint, isOffline } from "../../src/hub/settings.js";
import { snapshotIsComplete } from "../../src/hub/snapshot-status.js";
import { useTempDir } from "../helpers/fs.js";

const root = useTempDir("lm-merge-hub-select-");

describe("selectMergeFiles", () => {
	const side = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];
	test.each([
		[
			"sharded safetensors: the index (shards follow it)",
			[
				...side,
				"model.safetensors.index.json",
				"model-00001-of-00002.safetensors",
				"model-00002-of-00002.safetensors",
				"consolidated.safetensors",
				"README.md",
			],
			{ files: [...side, "model.safetensors.index.json"], index: "model.safetensors.index.json" },
		],
		["one safetensors file", [...side, "model.safetensors", "pytorch_model.bin"], { files: [...side, "model.safetensors"] }],
		[
			"safetensors preferred over .bin, sharded or not",
			["config.json", "pytorch_model.bin.index.json", "model.safetensors"],
			{ files: ["config.json", "model.safetensors"] },
		],
		[
			"PyTorch shards when there is no safetensors",
			["config.json", "pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin"],
			{ files: ["config.json", "pytorch_model.bin.index.json"], index: "pytorch_model.bin.index.json" },
		],
		[
			"a single .bin",
			["config.json", "tokenizer.model", "pytorch_model.bin"],
			{ files: ["config.json", "tokenizer.model", "pytorch_model.bin"] },
		],
		[
			"a LoRA adapter repo: its config and weights, safetensors first",
			["adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "README.md"],
			{ files: ["adapter_config.json", "adapter_model.safetensors"] },
		],
		["an adapter config without adapter weights is no weights", ["adapter_config.json", "README.md"], { files: [] }],
		[
			"nested files are not top-level weights",
			["config.json", "original/model.safetensors", "onnx/model.onnx"],
			{ files: ["config.json"] },
		],
	])("%s", (_, repo, want) => {
		expect(selectMergeFiles(repo)).toEqual(want);
	});
});

describe("shardsOfIndex", () => {
	test("the distinct shards, sorted", () => {
		expect(shardsOfIndex(JSON.stringify({ weight_map: { a: "m-2.safetensors", b: "m-1.safetensors", c: "m-2.safetensors" } }))).toEqual([
			"m-1.safetensors",
			"m-2.safetensors",
		]);
	});
	test.each([
		["not json", "{"],
		["no weight_map", "{}"],
		["a path", JSON.stringify({ weight_map: { a: "../x.safetensors" } })],
		["a subfolder", JSON.stringify({ weight_map: { a: "sub/x.safetensors" } })],
	])("%s is an error message", (_, text) => {
		expect(typeof shardsOfIndex(text)).toBe("string");
	});
});

test.each([
	["config.json", true],
	["sub/dir/file.bin", true],
	["../etc/passwd", false],
	["a/../../b", false],
	["/abs", false],
	["C:/x", false],
	["a\\b", false],
	["a//b", false],
	["", false],
])("isSafeRepoPath(%j) is %s", (p, ok) => {
	expect(isSafeRepoPath(p)).toBe(ok);
});

test("repo ids, revisions, commits, settings", () => {
	expect(parseHfRef("org/name@refs/pr/1")).toEqual({ repoId: "org/name", revision: "refs/pr/1" });
	expect(parseHfRef("org/name@../x")).toBeUndefined();
	expect(isCommitHash("a".repeat(40))).toBe(true);
	expect(isCommitHash("main")).toBe(false);
	expect(isOffline({ HF_HUB_OFFLINE: "true" })).toBe(true);
	expect(isOffline({ HF_HUB_OFFLINE: "0" })).toBe(false);
	expect(isOffline({}, true)).toBe(true);
	expect(hubEndpoint({ HF_ENDPOINT: "http://mirror/" })).toBe("http://mirror");
	expect(hubEndpoint({})).toBe("https://huggingface.co");
	const c = new RepoCache("/c", "org/name");
	expect([c.blob("e"), c.incomplete("e"), c.lock("e"), c.pointer("abc", "sub/f"), c.ref("refs/pr/1")]).toEqual([
		"/c/models--org--name/blobs/e",
		"/c/models--org--name/blobs/e.incomplete",
		"/c/.locks/models--org--name/e.lock",
		"/c/models--org--name/snapshots/abc/sub/f",
		"/c/models--org--name/refs/refs/pr/1",
	]);
});

describe("snapshotIsComplete", () => {
	test("weights present and every indexed shard resolving to a file; a dangling link is missing", async () => {
		const dir = path.join(root(), "snap");
		await mkdir(dir, { recursive: true });
		expect(await snapshotIsComplete(dir)).toBe(false);
		await writeFile(path.join(dir, "config.json"), "{}");
		await writeFile(
			path.join(dir, "model.safetensors.index.json"),
			JSON.stringify({ weight_map: { a: "s1.safetensors", b: "s2.safetensors" } }),
		);
		await writeFile(path.join(dir, "s1.safetensors"), "x");
		expect(await snapshotIsComplete(dir)).toBe(false);
		await symlink("../blobs/gone", path.join(dir, "s2.safetensors"));
		expect(await snapshotIsComplete(dir)).toBe(false);
		const single = path.join(root(), "single");
		await mkdir(single, { recursive: true });
		await writeFile(path.join(single, "model.safetensors"), "x");
		expect(await snapshotIsComplete(single)).toBe(true);
		expect(await snapshotIsComplete(path.join(root(), "absent"))).toBe(false);
	});
});
