import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { decodeToF32, encodeFromF32 } from "../../src/io/convert.js";
import type { FloatDtype } from "../../src/io/dtypes.js";
import { formatIndexJson, parseIndexJson, readIndexJson } from "../../src/io/index-json.js";
import { openSafetensors } from "../../src/io/reader.js";
import { ShardedWriter } from "../../src/io/sharded-writer.js";
import { SafetensorsWriter, WRITE_CHUNK_BYTES, writeError, writeTensorData } from "../../src/io/writer.js";

let dir: string;
beforeEach(async () => {
	dir = await mkdtemp(join(tmpdir(), "lm-merge-writer-"));
});
afterEach(async () => {
	await rm(dir, { recursive: true, force: true });
});

/** Rejects with an error whose `kind` is returned (undefined when it resolves). */
async function kindOf(p: Promise<unknown>): Promise<string | undefined> {
	try {
		await p;
	} catch (err) {
		return (err as { kind?: string }).kind ?? (err as Error).name;
	}
	return undefined;
}

function ramp(n: number, scale = 0.25): Float32Array {
	return Float32Array.from({ length: n }, (_, i) => (i - n / 2) * scale);
}

describe("SafetensorsWriter", () => {
	test.each(["F32", "F16", "BF16", "F64"] as const)("%s round trip through openSafetensors", async (dtype: FloatDtype) => {
		const path = join(dir, "m.safetensors");
		const a = ramp(6);
		const b = Float32Array.from([1, -0, Infinity, -Infinity, 3.140625]);
		const raw = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
		const w = await SafetensorsWriter.create(
			path,
			[
				{ name: "a", dtype, shape: [2, 3] },
				{ name: "b", dtype, shape: [5] },
				{ name: "ids", dtype: "I32", shape: [2] },
				{ name: "empty", dtype, shape: [0] },
			],
			{ format: "pt" },
		);
		await w.writeTensor("a", a);
		await w.writeTensor("b", b);
		await w.writeTensor("ids", raw);
		await w.writeTensor("empty", new Float32Array(0));
		await w.finish();

		const f = await openSafetensors(path);
		try {
			expect(f.names()).toEqual(["a", "b", "ids", "empty"]);
			expect(f.metadata()).toEqual({ format: "pt" });
			expect(f.size).toBe((await stat(path)).size);
			const ta = await f.read("a");
			expect(ta.shape).toEqual([2, 3]);
			expect(Array.from(ta.data)).toEqual(Array.from(a));
			expect(Array.from((await f.read("b")).data)).toEqual(Array.from(b));
			expect(Array.from(await f.readRaw("ids"))).toEqual(Array.from(raw));
			expect(Array.from(await f.readRaw("b"))).toEqual(Array.from(encodeFromF32(b, dtype)));
			expect((await f.read("empty")).data.length).toBe(0);
		} finally {
			await f.close();
		}
	});

	test("values are rounded to the dtype (bf16)", async () => {
		const path = join(dir, "r.safetensors");
		const w = await SafetensorsWriter.create(path, [{ name: "x", dtype: "BF16", shape: [2] }]);
		await w.writeTensor("x", Float32Array.from([1 + 2 ** -8, 1 + 3 * 2 ** -8]));
		await w.finish();
		const f = await openSafetensors(path);
		expect(Array.from((await f.read("x")).data)).toEqual([1, 1 + 2 ** -6]);
		await f.close();
	});

	test("a tensor bigger than one write slice is written in pieces", async () => {
		const path = join(dir, "big.safetensors");
		const n = WRITE_CHUNK_BYTES / 2 + 1000; // BF16: more than one 16 MiB slice of f32 input, a partial second slice
		const data = new Float32Array(n);
		for (let i = 0; i < n; i++) data[i] = (i % 256) - 128; // exact in bf16
		const w = await SafetensorsWriter.create(path, [{ name: "w", dtype: "BF16", shape: [n] }]);
		await w.writeTensor("w", data);
		await w.finish();
		const f = await openSafetensors(path);
		const back = (await f.read("w")).data;
		await f.close();
		expect(back.length).toBe(n);
		expect(back[0]).toBe(-128);
		expect(back[n - 1]).toBe(((n - 1) % 256) - 128);
		let mismatches = 0;
		for (let i = 0; i < n; i++) if (back[i] !== data[i]) mismatches++;
		expect(mismatches).toBe(0);
	});

	test("order, name, length and completeness are checked", async () => {
		const path = join(dir, "c.safetensors");
		const entries = [
			{ name: "a", dtype: "F16", shape: [2] },
			{ name: "b", dtype: "I8", shape: [2] },
		] as const;
		const w = await SafetensorsWriter.create(path, entries);
		expect(await kindOf(w.writeTensor("b", new Uint8Array(2)))).toBe("InvalidOffset");
		expect(await kindOf(w.writeTensor("zzz", new Uint8Array(2)))).toBe("TensorNotFound");
		expect(await kindOf(w.writeTensor("a", new Float32Array(3)))).toBe("TensorInvalidInfo");
		expect(await kindOf(w.writeTensor("a", new Uint8Array(3)))).toBe("TensorInvalidInfo");
		await w.writeTensor("a", new Float32Array(2));
		expect(await kindOf(w.writeTensor("b", new Float32Array(2)))).toBe("UnsupportedDtype");
		expect(await kindOf(w.finish())).toBe("MetadataIncompleteBuffer");
		await w.abort();
		await expect(stat(path)).rejects.toThrow();
	});

	test("ENOSPC becomes DiskFull naming the file; other failures are Io", () => {
		const full = writeError("/out/model.safetensors", "writing", Object.assign(new Error("no space left"), { code: "ENOSPC" }));
		expect(full.kind).toBe("DiskFull");
		expect(full.message).toContain("/out/model.safetensors");
		expect(writeError("f", "writing", Object.assign(new Error("denied"), { code: "EACCES" })).kind).toBe("Io");
	});

	test("refuses the reserved name before creating the file", async () => {
		const path = join(dir, "x.safetensors");
		expect(await kindOf(SafetensorsWriter.create(path, [{ name: "__metadata__", dtype: "F32", shape: [1] }]))).toBe("ReservedTensorName");
		await expect(stat(path)).rejects.toThrow();
	});
});

describe("writeTensorData with onNonFinite", () => {
	test.each(["BF16", "F16", "F32", "F64"] as const)(
		"%s: reported with the element index before its slice is written; a throw stops the write there",
		async (dtype) => {
			const size = { BF16: 2, F16: 2, F32: 4, F64: 8 }[dtype];
			const perSlice = WRITE_CHUNK_BYTES / (dtype === "F32" ? 4 : size);
			const n = perSlice + 100; // two slices; the bad value sits in the second
			const values = new Float32Array(n).fill(0.5);
			values[perSlice + 7] = dtype === "F16" ? 1e5 : -Infinity;
			const path = join(dir, `nonfinite-${dtype}.bin`);
			await writeFile(path, new Uint8Array(0));
			const handle = await open(path, "r+");
			const seen: Array<{ index: number; value: number }> = [];
			const info = { name: "w", dtype, byteLength: n * size };
			try {
				const err = new Error("stop");
				await expect(
					writeTensorData(handle, path, info, 0, values, {
						onNonFinite: async (at) => {
							seen.push(at);
							throw err;
						},
					}),
				).rejects.toBe(err);
				// The first slice is on disk, nothing of the second.
				expect((await stat(path)).size).toBe(perSlice * size);
				expect(seen).toEqual([{ index: perSlice + 7, value: values[perSlice + 7] }]);
				// Returning instead lets the write go on: every byte as encodeFromF32 gives it.
				await writeTensorData(handle, path, info, 0, values, { onNonFinite: async () => undefined });
				expect(Buffer.from(await readFile(path)).equals(Buffer.from(encodeFromF32(values, dtype)))).toBe(true);
			} finally {
				await handle.close();
			}
		},
	);
});

describe("ShardedWriter", () => {
	const entries = [
		{ name: "embed", dtype: "BF16", shape: [4, 2] },
		{ name: "layer.0", dtype: "BF16", shape: [4] },
		{ name: "layer.1", dtype: "BF16", shape: [4] },
		{ name: "head", dtype: "BF16", shape: [4, 2] },
	] as const;
	const data = (name: string, n: number) => Float32Array.from({ length: n }, (_, i) => name.length + i);

	async function writeAll(out: string, maxShardBytes: number, force = false): Promise<ShardedWriter> {
		const w = await ShardedWriter.create(out, entries, { maxShardBytes, force, metadata: { merged_by: "lm-merge" } });
		for (const e of entries) {
			await w.writeTensor(
				e.name,
				data(
					e.name,
					e.shape.reduce((a, b) => a * b, 1),
				),
			);
		}
		await w.writeFile("config.json", '{"model_type":"mistral"}\n');
		return w;
	}

	test("a single shard is model.safetensors with no index", async () => {
		const out = join(dir, "single");
		const w = await writeAll(out, 1e9);
		await w.commit();
		expect((await readdir(out)).sort()).toEqual(["config.json", "model.safetensors"]);
		expect(w.files).toEqual(["model.safetensors", "config.json"]);
		const f = await openSafetensors(join(out, "model.safetensors"));
		expect(f.metadata()).toEqual({ format: "pt", merged_by: "lm-merge" });
		expect(Array.from((await f.read("head")).data)).toEqual(Array.from(data("head", 8)));
		await f.close();
		expect((await readdir(dir)).filter((n) => n.includes(".partial-"))).toEqual([]);
	});

	test("tiny shards give model-0000i-of-00004 files and an index in output order", async () => {
		const out = join(dir, "sharded");
		const w = await ShardedWriter.create(out, entries, { maxShardBytes: 16 });
		expect(w.shards.map((s) => s.tensors)).toEqual([["embed"], ["layer.0", "layer.1"], ["head"]]);
		await w.abort();

		const w2 = await writeAll(out, 8);
		await w2.commit();
		const names = [1, 2, 3, 4].map((i) => `model-0000${i}-of-00004.safetensors`);
		expect((await readdir(out)).sort()).toEqual(["config.json", ...names, "model.safetensors.index.json"].sort());
		const text = await readFile(join(out, "model.safetensors.index.json"), "utf8");
		expect(JSON.parse(text)).toEqual({
			metadata: { total_size: 48 },
			weight_map: { embed: names[0], "layer.0": names[1], "layer.1": names[2], head: names[3] },
		});
		expect(text).toBe(formatIndexJson(48, new Map(entries.map((e, i) => [e.name, names[i]!]))));
		expect(text.split("\n")[1]).toBe('  "metadata": {');
		const index = await readIndexJson(join(out, "model.safetensors.index.json"));
		expect(Object.keys(index.weight_map)).toEqual(["embed", "layer.0", "layer.1", "head"]);
		for (const [tensor, shard] of Object.entries(index.weight_map)) {
			const f = await openSafetensors(join(out, shard));
			expect(f.names()).toEqual([tensor]);
			expect(f.metadata()).toEqual({ format: "pt", merged_by: "lm-merge" });
			expect(Array.from((await f.read(tensor)).data)).toEqual(Array.from(data(tensor, f.info(tensor).byteLength / 2)));
			await f.close();
		}
	});

	test("writeTensor reports each completed shard", async () => {
		const w = await ShardedWriter.create(join(dir, "o"), entries, { maxShardBytes: 16 });
		const done = [];
		for (const e of entries) done.push(await w.writeTensor(e.name, new Float32Array(e.shape.reduce((a, b) => a * b, 1))));
		expect(done).toEqual([
			{ file: "model-00001-of-00003.safetensors", bytes: expect.any(Number) },
			undefined,
			{ file: "model-00002-of-00003.safetensors", bytes: expect.any(Number) },
			{ file: "model-00003-of-00003.safetensors", bytes: expect.any(Number) },
		]);
		await w.commit();
		expect(done[0]!.bytes).toBe((await stat(join(dir, "o", done[0]!.file))).size);
	});

	test("abort leaves nothing behind", async () => {
		const out = join(dir, "aborted");
		const w = await ShardedWriter.create(out, entries, { maxShardBytes: 8 });
		await w.writeTensor("embed", new Float32Array(8));
		await w.writeFile("README.md", "# hi\n");
		await w.abort();
		await w.abort();
		expect(await readdir(dir)).toEqual([]);
	});

	test("an existing non-empty folder is refused without force and replaced with it", async () => {
		const out = join(dir, "exists");
		await mkdir(out);
		await writeFile(join(out, "old.txt"), "old");
		expect(await kindOf(ShardedWriter.create(out, entries, { maxShardBytes: 1e9 }))).toBe("OutputExists");
		expect(await readdir(dir)).toEqual(["exists"]);
		const w = await writeAll(out, 1e9, true);
		expect(await readFile(join(out, "old.txt"), "utf8")).toBe("old"); // untouched until commit
		await w.commit();
		expect((await readdir(out)).sort()).toEqual(["config.json", "model.safetensors"]);
		expect(await readdir(dir)).toEqual(["exists"]);
	});

	test("an existing empty folder is replaced; a file in the way is refused", async () => {
		const out = join(dir, "empty");
		await mkdir(out);
		const w = await writeAll(out, 1e9);
		await w.commit();
		expect((await readdir(out)).sort()).toEqual(["config.json", "model.safetensors"]);
		await writeFile(join(dir, "file"), "x");
		expect(await kindOf(ShardedWriter.create(join(dir, "file"), entries, { maxShardBytes: 1e9, force: true }))).toBe("OutputExists");
	});

	test("extra file names must be plain and not collide with the weights", async () => {
		const w = await ShardedWriter.create(join(dir, "o"), entries, { maxShardBytes: 1e9 });
		for (const bad of ["../x", "a/b", "..", "", "model.safetensors", "model.safetensors.index.json"]) {
			expect(await kindOf(w.writeFile(bad, "x"))).toBe("Io");
		}
		expect(await kindOf(w.commit())).toBe("MetadataIncompleteBuffer");
		await w.abort();
	});

	test("no tensors still gives a loadable model.safetensors", async () => {
		const out = join(dir, "none");
		const w = await ShardedWriter.create(out, [], { maxShardBytes: 10 });
		await w.commit();
		const f = await openSafetensors(join(out, "model.safetensors"));
		expect(f.names()).toEqual([]);
		await f.close();
	});

	test("duplicate output names are refused before anything is created", async () => {
		const dup = [entries[0], entries[0]];
		expect(await kindOf(ShardedWriter.create(join(dir, "d"), dup, { maxShardBytes: 8 }))).toBe("DuplicateTensor");
		expect(await readdir(dir)).toEqual([]);
	});
});

describe("index.json", () => {
	test("parse validates the shape and keeps order", () => {
		const idx = parseIndexJson('{"metadata":{"total_size":10,"x":"y"},"weight_map":{"2":"b","1":"a","__proto__":"c"}}', "i.json");
		expect(idx.metadata).toEqual({ total_size: 10, x: "y" });
		expect(Object.keys(idx.weight_map)).toEqual(["1", "2", "__proto__"]); // integer keys: JS object order
		// biome-ignore lint/suspicious/noProto: the test reads an own "__proto__" key parsed from JSON.
		expect(idx.weight_map.__proto__).toBe("c");
		expect(parseIndexJson('{"weight_map":{}}', "i.json").metadata).toEqual({});
	});

	test.each([
		["not json", "{"],
		["not an object", "[]"],
		["no weight_map", '{"metadata":{}}'],
		["weight_map not an object", '{"weight_map":[]}'],
		["shard not a string", '{"weight_map":{"a":1}}'],
		["tensor twice", '{"weight_map":{"a":"x","a":"x"}}'],
		["total_size a string", '{"metadata":{"total_size":"10"},"weight_map":{}}'],
		["total_size negative", '{"metadata":{"total_size":-1},"weight_map":{}}'],
		["metadata not an object", '{"metadata":3,"weight_map":{}}'],
	])("%s → InvalidIndex", (_name, text) => {
		let kind: string | undefined;
		try {
			parseIndexJson(text, "i.json");
		} catch (err) {
			kind = (err as { kind: string }).kind;
		}
		expect(kind).toBe("InvalidIndex");
	});

	test("a missing file is NotFound", async () => {
		expect(await kindOf(readIndexJson(join(dir, "nope.json")))).toBe("NotFound");
	});

	test("format with integer-like names keeps the given order", () => {
		const text = formatIndexJson(3, { b: "s1", a: "s2" }, { mergekit_version: "0.1.4" });
		expect(text).toBe(
			'{\n  "metadata": {\n    "total_size": 3,\n    "mergekit_version": "0.1.4"\n  },\n' +
				'  "weight_map": {\n    "b": "s1",\n    "a": "s2"\n  }\n}\n',
		);
		const numeric = formatIndexJson(
			0,
			new Map([
				["9", "x"],
				["1", "y"],
			]),
		);
		expect(numeric.indexOf('"9"')).toBeLessThan(numeric.indexOf('"1"'));
		expect(formatIndexJson(0, {})).toBe('{\n  "metadata": {\n    "total_size": 0\n  },\n  "weight_map": {}\n}\n');
	});
});

test("decodeToF32 reads what the writer encoded (sanity)", () => {
	expect(Array.from(decodeToF32(encodeFromF32(ramp(4), "F16"), "F16"))).toEqual(Array.from(ramp(4)));
});
