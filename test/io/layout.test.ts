import { describe, expect, test } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseHeader } from "../../src/io/header.js";
import { layoutTensors, parseSize, planShards, shardFileName } from "../../src/io/layout.js";
import { kindOf } from "../helpers/errors.js";

function headerText(header: Uint8Array): string {
	return new TextDecoder().decode(header.subarray(8));
}

describe("layoutTensors", () => {
	const entries = [
		{ name: "b", dtype: "BF16", shape: [2, 3] },
		{ name: "a", dtype: "F32", shape: [3] },
		{ name: "scalar", dtype: "F64", shape: [] },
		{ name: "empty", dtype: "F16", shape: [0, 4] },
		{ name: "ids", dtype: "I64", shape: [1] },
	] as const;

	test("offsets are contiguous in the given order", () => {
		const layout = layoutTensors(entries, { format: "pt" });
		expect(layout.tensors.map((t) => [t.name, t.byteOffset, t.byteLength])).toEqual([
			["b", 0, 12],
			["a", 12, 12],
			["scalar", 24, 8],
			["empty", 32, 0],
			["ids", 32, 8],
		]);
		expect(layout.dataStart).toBe(layout.header.byteLength);
		expect(layout.fileSize).toBe(layout.dataStart + 40);
	});

	test("the header is a length prefix plus JSON padded with spaces to a multiple of 8, metadata first", () => {
		for (let n = 0; n < 12; n++) {
			// Vary the name length so that every padding amount 0..7 occurs.
			const layout = layoutTensors([{ name: "x".repeat(n), dtype: "F32", shape: [1] }], { format: "pt" });
			const h = layout.header;
			expect(h.byteLength % 8).toBe(0);
			expect(Number(new DataView(h.buffer).getBigUint64(0, true))).toBe(h.byteLength - 8);
			const text = headerText(h);
			expect(text.trimEnd()).toBe(`{"__metadata__":{"format":"pt"},"${"x".repeat(n)}":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`);
			expect(text.length - text.trimEnd().length).toBeLessThan(8);
		}
	});

	test("the header parses back with the reader's validator", () => {
		const layout = layoutTensors(entries, { format: "pt", note: "é ✓" });
		const file = new Uint8Array(layout.fileSize);
		file.set(layout.header);
		const parsed = parseHeader(file, file.byteLength, "mem");
		expect(parsed.metadata).toEqual({ format: "pt", note: "é ✓" });
		expect([...parsed.tensors.values()]).toEqual(layout.tensors);
		expect(parsed.dataStart).toBe(layout.dataStart);
	});

	test("without metadata there is no __metadata__ key; no tensors is fine", () => {
		expect(headerText(layoutTensors([{ name: "t", dtype: "U8", shape: [2] }]).header).trimEnd()).toBe(
			'{"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}',
		);
		const empty = layoutTensors([], {});
		expect(headerText(empty.header).trimEnd()).toBe('{"__metadata__":{}}');
		expect(empty.fileSize).toBe(empty.header.byteLength);
	});

	test.each([
		["ReservedTensorName", [{ name: "__metadata__", dtype: "F32", shape: [1] }], undefined],
		[
			"DuplicateTensor",
			[
				{ name: "a", dtype: "F32", shape: [1] },
				{ name: "a", dtype: "F32", shape: [1] },
			],
			undefined,
		],
		["InvalidMetadata", [], { n: 1 }],
		["TensorInvalidInfo", [{ name: "a", dtype: "F32", shape: [-1] }], undefined],
		["TensorInvalidInfo", [{ name: "a", dtype: "F32", shape: [1.5] }], undefined],
		["ValidationOverflow", [{ name: "a", dtype: "F64", shape: [2 ** 30, 2 ** 30] }], undefined],
		["MisalignedSlice", [{ name: "a", dtype: "F4", shape: [3] }], undefined],
		["UnsupportedDtype", [{ name: "a", dtype: "F128", shape: [1] }], undefined],
	])("refuses with kind %s", (kind, list, metadata) => {
		expect(kindOf(() => layoutTensors(list as never, metadata as never))).toBe(kind);
	});

	test("a header above the cap is HeaderTooLarge", () => {
		const many = Array.from({ length: 20 }, (_, i) => ({ name: `t${i}`, dtype: "F32" as const, shape: [1] }));
		expect(kindOf(() => layoutTensors(many, undefined, { maxHeaderBytes: 256 }))).toBe("HeaderTooLarge");
		expect(layoutTensors(many, undefined, { maxHeaderBytes: 4096 }).tensors).toHaveLength(20);
	});
});

describe("planShards", () => {
	const sizes = (list: number[]) => list.map((byteLength) => ({ byteLength }));
	test.each([
		["all fit", [10, 20, 30], 100, [[0, 1, 2]]],
		["exactly full", [50, 50, 1], 100, [[0, 1], [2]]],
		["one over", [50, 51], 100, [[0], [1]]],
		["oversized tensor alone", [10, 500, 10], 100, [[0], [1], [2]]],
		["oversized first", [500, 10, 10], 100, [[0], [1, 2]]],
		["zero-byte tensors join the current shard", [100, 0, 0, 1], 100, [[0, 1, 2], [3]]],
		["four shards", [4, 4, 4, 4], 4, [[0], [1], [2], [3]]],
		["no tensors: one empty shard", [], 100, [[]]],
	])("%s", (_name, list, max, expected) => {
		expect(planShards(sizes(list), max)).toEqual(expected);
	});
	test("rejects a non-positive limit", () => {
		expect(() => planShards(sizes([1]), 0)).toThrow(UsageError);
		expect(() => planShards(sizes([1]), 1.5)).toThrow(UsageError);
	});
});

describe("shardFileName", () => {
	test.each([
		[1, 1, "model.safetensors"],
		[1, 4, "model-00001-of-00004.safetensors"],
		[4, 4, "model-00004-of-00004.safetensors"],
		[12, 123, "model-00012-of-00123.safetensors"],
	])("shard %i of %i", (i, n, name) => {
		expect(shardFileName(i, n)).toBe(name);
	});
	test("rejects out-of-range numbers", () => {
		expect(() => shardFileName(0, 3)).toThrow(RangeError);
		expect(() => shardFileName(4, 3)).toThrow(RangeError);
	});
});

describe("parseSize", () => {
	test.each([
		[123, 123],
		["123", 123],
		["5GB", 5e9],
		["5gb", 5e9],
		["5G", 5e9],
		["500M", 5e8],
		["500MB", 5e8],
		["2K", 2000],
		["1T", 1e12],
		["1B", 1e9],
		["2GiB", 2 * 2 ** 30],
		["1 MiB", 2 ** 20],
		["3KiB", 3072],
		["1.5G", 1.5e9],
		["0.5KiB", 512],
		[" 10 kb ", 10_000],
	])("%s", (input, bytes) => {
		expect(parseSize(input)).toBe(bytes);
	});
	test.each([["abc"], ["5XB"], [""], ["-1G"], ["0"], [0], [1.5], ["1e3"], ["5 G B"], [Number.NaN], ["1e30TB"]])("rejects %s", (input) => {
		expect(() => parseSize(input)).toThrow(UsageError);
	});
});
