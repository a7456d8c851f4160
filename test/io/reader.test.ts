import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SafetensorsError, type SafetensorsErrorKind } from "../../src/errors.js";
import { openSafetensors, type SafetensorsFile } from "../../src/io/reader.js";
import { rejected } from "../helpers/errors.js";
import { concatBytes, craftFile, f32Bytes, f64Bytes, u16Bytes } from "./safetensors-bytes.js";

let dir: string;

/** Writes crafted bytes to a fresh file in the test folder and returns its path. */
function writeFile(name: string, bytes: Uint8Array): string {
	const path = join(dir, name);
	writeFileSync(path, bytes);
	return path;
}

async function kindOf(promise: Promise<unknown>): Promise<SafetensorsErrorKind> {
	return (await rejected(promise, SafetensorsError)).kind;
}

// Data section: every float tensor starts at an offset that is not a multiple of its element size.
const DATA = concatBytes(
	new Uint8Array([7, 8, 9]), // u8      [3]     0..3
	f32Bytes([1, 2, 3, 4, 5, 6]), // f32 [2,3]   3..27
	u16Bytes([0x3c00, 0xc000, 0x3800, 0x7c00]), // f16 [4] = 1, -2, 0.5, +Inf   27..35
	u16Bytes([0x3f80, 0xc040]), // bf16 [2] = 1, -3   35..39
	f64Bytes([0.1, -1e300]), // f64 [2]   39..55
	new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]), // i64 [1]   55..63
	f32Bytes([42]), // scalar []   63..67
);
const HEADER = {
	__metadata__: { format: "pt" },
	scalar: { dtype: "F32", shape: [], data_offsets: [63, 67] },
	empty: { dtype: "F32", shape: [0, 3], data_offsets: [67, 67] },
	u8: { dtype: "U8", shape: [3], data_offsets: [0, 3] },
	f32: { dtype: "F32", shape: [2, 3], data_offsets: [3, 27] },
	f16: { dtype: "F16", shape: [4], data_offsets: [27, 35] },
	bf16: { dtype: "BF16", shape: [2], data_offsets: [35, 39] },
	f64: { dtype: "F64", shape: [2], data_offsets: [39, 55] },
	i64: { dtype: "I64", shape: [1], data_offsets: [55, 63] },
};

describe("a valid file", () => {
	let path: string;
	let file: SafetensorsFile;

	beforeAll(async () => {
		dir = mkdtempSync(join(tmpdir(), "lm-merge-reader-"));
		path = writeFile("model.safetensors", craftFile(HEADER, DATA));
		file = await openSafetensors(path);
	});

	afterAll(async () => {
		await file.close();
		rmSync(dir, { recursive: true, force: true });
	});

	test("lists tensors in data order, with header, size and metadata", () => {
		expect(file.location).toBe(path);
		expect(file.names()).toEqual(["u8", "f32", "f16", "bf16", "f64", "i64", "scalar", "empty"]);
		expect(file.has("f16")).toBe(true);
		expect(file.has("nope")).toBe(false);
		expect(file.info("f64")).toEqual({ name: "f64", dtype: "F64", shape: [2], byteOffset: 39, byteLength: 16 });
		expect(file.fileOf("f32")).toBe(path);
		expect(file.metadata()).toEqual({ format: "pt" });
		expect(file.size).toBe(8 + JSON.stringify(HEADER).length + DATA.length);
		expect(file.header.dataStart).toBe(8 + JSON.stringify(HEADER).length);
	});

	test.each([
		["f32", [2, 3], [1, 2, 3, 4, 5, 6]],
		["f16", [4], [1, -2, 0.5, Infinity]],
		["bf16", [2], [1, -3]],
		["f64", [2], [Math.fround(0.1), -Infinity]],
		["scalar", [], [42]],
		["empty", [0, 3], []],
	])("read(%s) decodes at an unaligned offset", async (name, shape, values) => {
		const t = await file.read(name);
		expect(t.shape).toEqual(shape);
		expect(t.data).toBeInstanceOf(Float32Array);
		expect([...t.data]).toEqual(values);
	});

	test("concurrent reads on one handle", async () => {
		const [a, b, c] = await Promise.all([file.read("f32"), file.read("bf16"), file.readRows("f32", 1, 2)]);
		expect([...a.data]).toEqual([1, 2, 3, 4, 5, 6]);
		expect([...b.data]).toEqual([1, -3]);
		expect([...c.data]).toEqual([4, 5, 6]);
	});

	test("readRows reads rows of 2-D tensors and elements of 1-D and scalar ones", async () => {
		expect(await file.readRows("f32", 1, 2)).toEqual({ shape: [1, 3], data: new Float32Array([4, 5, 6]) });
		expect(await file.readRows("f32", 0, 2)).toEqual({ shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
		expect(await file.readRows("f32", 2, 2)).toEqual({ shape: [0, 3], data: new Float32Array(0) });
		expect(await file.readRows("f16", 1, 3)).toEqual({ shape: [2], data: new Float32Array([-2, 0.5]) });
		expect(await file.readRows("bf16", 1, 2)).toEqual({ shape: [1], data: new Float32Array([-3]) });
		expect(await file.readRows("scalar", 0, 1)).toEqual({ shape: [1], data: new Float32Array([42]) });
		expect(await file.readRows("empty", 0, 0)).toEqual({ shape: [0, 3], data: new Float32Array(0) });
	});

	test.each([
		["f32", 1, 3],
		["f32", 2, 1],
		["f32", -1, 1],
		["f32", 0.5, 1],
		["f16", 0, 5],
		["scalar", 0, 2],
		["empty", 0, 1],
	])("readRows(%s, %d, %d) is InvalidRange", async (name, a, b) => {
		expect(await kindOf(file.readRows(name, a, b))).toBe("InvalidRange");
	});

	test("readRaw returns the bytes of any dtype, whole or a range", async () => {
		expect([...(await file.readRaw("u8"))]).toEqual([7, 8, 9]);
		expect([...(await file.readRaw("i64"))]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
		expect(await file.readRaw("f16", 2, 6)).toEqual(u16Bytes([0xc000, 0x3800]));
		expect(await file.readRaw("f32", 4)).toEqual(f32Bytes([2, 3, 4, 5, 6]));
		expect((await file.readRaw("empty")).length).toBe(0);
		expect((await file.readRaw("u8", 3, 3)).length).toBe(0);
	});

	test("readRaw reads into a caller's buffer of the range's exact length, and refuses any other length", async () => {
		const into = new Uint8Array(8);
		const got = await file.readRaw("f32", 4, 12, into);
		expect(got).toBe(into);
		expect(into).toEqual(f32Bytes([2, 3]));
		expect(await kindOf(file.readRaw("f32", 4, 12, new Uint8Array(7)))).toBe("InvalidRange");
	});

	test("readRaw outside the tensor is InvalidRange", async () => {
		expect(await kindOf(file.readRaw("u8", 0, 4))).toBe("InvalidRange");
		expect(await kindOf(file.readRaw("u8", 2, 1))).toBe("InvalidRange");
	});

	test("an unknown name is TensorNotFound", async () => {
		expect(() => file.info("missing")).toThrow(SafetensorsError);
		expect(await kindOf(file.read("missing"))).toBe("TensorNotFound");
		expect(await kindOf(file.readRows("missing", 0, 1))).toBe("TensorNotFound");
		expect(await kindOf(file.readRaw("missing"))).toBe("TensorNotFound");
	});

	test("non-float dtypes cannot be decoded for merging", async () => {
		expect(await kindOf(file.read("i64"))).toBe("UnsupportedDtype");
		expect(await kindOf(file.readRows("u8", 0, 1))).toBe("UnsupportedDtype");
	});
});

describe("opening bad files", () => {
	beforeAll(() => {
		dir = mkdtempSync(join(tmpdir(), "lm-merge-reader-bad-"));
	});
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	test("a missing path or a folder is IoError naming the path", async () => {
		const missing = join(dir, "nope.safetensors");
		const err = await openSafetensors(missing).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(SafetensorsError);
		expect((err as SafetensorsError).kind).toBe("IoError");
		expect((err as SafetensorsError).message).toContain(missing);
		expect(await kindOf(openSafetensors(dir))).toBe("IoError");
	});

	test("a file shorter than the length prefix is HeaderTooSmall", async () => {
		expect(await kindOf(openSafetensors(writeFile("tiny.safetensors", new Uint8Array(5))))).toBe("HeaderTooSmall");
		expect(await kindOf(openSafetensors(writeFile("zero.safetensors", new Uint8Array(0))))).toBe("HeaderTooSmall");
	});

	test("a huge length prefix is rejected before allocating", async () => {
		const path = writeFile("huge.safetensors", craftFile("{}", 0, 2n ** 60n));
		expect(await kindOf(openSafetensors(path))).toBe("HeaderTooLarge");
	});

	test("maxHeaderBytes lowers the cap", async () => {
		const path = writeFile("small-cap.safetensors", craftFile(HEADER, DATA));
		expect(await kindOf(openSafetensors(path, { maxHeaderBytes: 64 }))).toBe("HeaderTooLarge");
	});

	test("a file cut inside the header is InvalidHeaderLength", async () => {
		const bytes = craftFile(HEADER, DATA);
		const path = writeFile("cut-header.safetensors", bytes.subarray(0, 30));
		expect(await kindOf(openSafetensors(path))).toBe("InvalidHeaderLength");
	});

	test("a file cut inside the data is MetadataIncompleteBuffer", async () => {
		const bytes = craftFile(HEADER, DATA);
		const path = writeFile("cut-data.safetensors", bytes.subarray(0, bytes.length - 1));
		expect(await kindOf(openSafetensors(path))).toBe("MetadataIncompleteBuffer");
	});

	test("an invalid header is reported with its kind", async () => {
		const path = writeFile(
			"dup.safetensors",
			craftFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1),
		);
		expect(await kindOf(openSafetensors(path))).toBe("DuplicateTensor");
	});

	test("an empty {} file opens with no tensors", async () => {
		const file = await openSafetensors(writeFile("empty.safetensors", craftFile("{}")));
		expect(file.names()).toEqual([]);
		expect(file.metadata()).toEqual({});
		await file.close();
	});

	test("close is idempotent and later reads are IoError", async () => {
		const file = await openSafetensors(writeFile("close.safetensors", craftFile(HEADER, DATA)));
		await file.close();
		await file.close();
		expect(await kindOf(file.read("f32"))).toBe("IoError");
		expect(await kindOf(file.readRaw("u8"))).toBe("IoError");
		expect(file.names()).toHaveLength(8);
	});
});

describe("tensors too large for one buffer", () => {
	// A sparse file: its header declares 100 GiB of data, which takes no disk space and is never read whole.
	const HUGE = 100 * 2 ** 30;
	let path: string;
	let file: SafetensorsFile;

	beforeAll(async () => {
		dir = mkdtempSync(join(tmpdir(), "lm-merge-reader-huge-"));
		const header = craftFile({ huge: { dtype: "BF16", shape: [HUGE / 2 / 1024, 1024], data_offsets: [0, HUGE] } });
		path = writeFile("huge.safetensors", header);
		truncateSync(path, header.length + HUGE);
		file = await openSafetensors(path);
	});

	afterAll(async () => {
		await file.close();
		rmSync(dir, { recursive: true, force: true });
	});

	test("read() and readRaw() of the whole tensor are TensorTooLarge naming the tensor, not a RangeError", async () => {
		for (const attempt of [file.read("huge"), file.readRaw("huge"), file.readRows("huge", 0, HUGE / 2 / 1024)]) {
			const err = await rejected(attempt, SafetensorsError);
			expect(err.kind).toBe("TensorTooLarge");
			expect(err.tensor).toBe("huge");
			expect(err.message).toContain("readRows");
		}
	});

	test("a slice of it still reads (sparse data reads as zeros)", async () => {
		const rows = await file.readRows("huge", 1000, 1002);
		expect(rows.shape).toEqual([2, 1024]);
		expect(rows.data.every((v) => v === 0)).toBe(true);
		expect(await file.readRaw("huge", HUGE - 4, HUGE)).toEqual(new Uint8Array(4));
	});
});
