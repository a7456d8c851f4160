/** Model folders holding PyTorch `.bin` weights: single file, legacy format, sharded with an index; precedence and errors. */
import { copyFile, cp, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import { ModelError, TorchBinError } from "../../src/errors.js";
import { type ModelSource, openModel } from "../../src/model/model-dir.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";

const FIXTURES = path.join(REPO_ROOT, "test", "fixtures", "torch-bin");
const root = useTempDir("lm-merge-modeldir-bin-");
const opened: ModelSource[] = [];
afterEach(async () => {
	await Promise.all(opened.splice(0).map((m) => m.close()));
});
async function openIt(p: string): Promise<ModelSource> {
	const m = await openModel(p);
	opened.push(m);
	return m;
}

/** Every tensor's name, dtype, shape and bytes. */
async function contents(m: ModelSource): Promise<Array<[string, string, number[], string]>> {
	const out: Array<[string, string, number[], string]> = [];
	for (const name of m.names()) {
		const info = m.info(name);
		out.push([name, info.dtype, info.shape, Buffer.from(await m.readRaw(name)).toString("hex")]);
	}
	return out.sort((a, b) => a[0].localeCompare(b[0]));
}

test.each([
	"tiny-mistral",
	"tiny-mistral-legacy",
	"tiny-mistral-sharded",
	"tiny-mistral-sharded/pytorch_model.bin.index.json",
	"tiny-mistral/pytorch_model.bin",
])("%s holds exactly the tensors of the safetensors twin, with its config", async (rel) => {
	const bin = await openIt(path.join(FIXTURES, rel));
	const st = await openIt(path.join(FIXTURES, "tiny-mistral-st"));
	expect(await contents(bin)).toEqual(await contents(st));
	expect(bin.totalBytes).toBe(st.totalBytes);
	expect(bin.config?.numHiddenLayers).toBe(2);
	expect(bin.dir).toBe(path.join(FIXTURES, rel.split("/")[0]!));
});

test("a sharded .bin model lists its shards and index; its aligned reads fall back to ordinary reads", async () => {
	const m = await openIt(path.join(FIXTURES, "tiny-mistral-sharded"));
	expect(m.files.map((f) => path.basename(f))).toEqual(["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]);
	expect(path.basename(m.indexFile!)).toBe("pytorch_model.bin.index.json");
	const name = "model.layers.1.mlp.down_proj.weight";
	const scratch = new Uint8Array(8192);
	const got = await m.readRawAligned!(name, 2, 10, scratch);
	expect(Buffer.from(got)).toEqual(Buffer.from((await m.readRaw(name)).subarray(2, 10)));
});

test("safetensors weights win over .bin weights in the same folder", async () => {
	const dir = path.join(root(), "both");
	await cp(path.join(FIXTURES, "tiny-mistral-st"), dir, { recursive: true });
	await copyFile(path.join(FIXTURES, "hostile", "os-system.bin"), path.join(dir, "pytorch_model.bin"));
	const m = await openIt(dir);
	expect(m.files.map((f) => path.basename(f))).toEqual(["model.safetensors"]);
});

test("both pytorch_model.bin and its index → AmbiguousWeights", async () => {
	const dir = path.join(root(), "ambiguous");
	await cp(path.join(FIXTURES, "tiny-mistral-sharded"), dir, { recursive: true });
	await copyFile(path.join(FIXTURES, "tiny-mistral", "pytorch_model.bin"), path.join(dir, "pytorch_model.bin"));
	const err = await rejected(openModel(dir), ModelError);
	expect(err.kind).toBe("AmbiguousWeights");
	expect(err.message).toContain("pytorch_model.bin.index.json");
});

test("a hostile or damaged pytorch_model.bin in a folder is the .bin reader's error; an LFS pointer is caught first", async () => {
	const evil = path.join(root(), "evil");
	await mkdir(evil);
	await copyFile(path.join(FIXTURES, "hostile", "os-system.bin"), path.join(evil, "pytorch_model.bin"));
	expect((await rejected(openModel(evil), TorchBinError)).kind).toBe("UnsafePickle");
	const junk = path.join(root(), "junk");
	await mkdir(junk);
	await writeFile(path.join(junk, "pytorch_model.bin"), "not a checkpoint");
	expect((await rejected(openModel(junk), TorchBinError)).kind).toBe("NotACheckpoint");
	const lfs = path.join(root(), "lfs");
	await mkdir(lfs);
	await writeFile(path.join(lfs, "pytorch_model.bin"), "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1\n");
	const err = await rejected(openModel(lfs), ModelError);
	expect(err.kind).toBe("NotASafetensorsFile");
	expect(err.message).toContain("git lfs pull");
});
