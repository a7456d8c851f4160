import { describe, expect, test } from "vitest";
import { SafetensorsError, type SafetensorsErrorKind } from "../../src/errors.js";
import { type HeaderOptions, MAX_HEADER_BYTES, parseHeader, readHeaderLength } from "../../src/io/header.js";
import { MAX_JSON_DEPTH } from "../../src/io/header-json.js";
import { caught } from "../helpers/errors.js";
import { craftFile, type DataSpec } from "./safetensors-bytes.js";

const FILE = "crafted.safetensors";

function parse(header: string | object | Uint8Array, data: DataSpec = 0, opts?: HeaderOptions) {
	const bytes = craftFile(header, data);
	return parseHeader(bytes, bytes.length, FILE, opts);
}

function kindOf(fn: () => unknown): SafetensorsErrorKind {
	return caught(fn, SafetensorsError).kind;
}

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: "F32", shape, data_offsets: [begin, end] });

describe("length prefix", () => {
	test("fewer than 8 bytes is HeaderTooSmall", () => {
		expect(kindOf(() => parseHeader(new Uint8Array(5), 5, FILE))).toBe("HeaderTooSmall");
		expect(kindOf(() => readHeaderLength(new Uint8Array(8), 7, FILE))).toBe("HeaderTooSmall");
	});

	test("a length above the cap is HeaderTooLarge, checked before the file size", () => {
		const huge = craftFile("{}", 0, 2n ** 60n);
		expect(kindOf(() => parseHeader(huge, huge.length, FILE))).toBe("HeaderTooLarge");
		const justOver = craftFile("{}", 0, BigInt(MAX_HEADER_BYTES + 1));
		expect(kindOf(() => readHeaderLength(justOver, 2 * MAX_HEADER_BYTES, FILE))).toBe("HeaderTooLarge");
		expect(readHeaderLength(craftFile("{}", 0, BigInt(MAX_HEADER_BYTES)), 2 * MAX_HEADER_BYTES, FILE)).toBe(MAX_HEADER_BYTES);
	});

	test("the cap is configurable", () => {
		const header = { a: f32([1], 0, 4) };
		expect(kindOf(() => parse(header, 4, { maxHeaderBytes: 16 }))).toBe("HeaderTooLarge");
		expect(parse(header, 4, { maxHeaderBytes: 1000 }).tensors.size).toBe(1);
		expect(() => parse(header, 4, { maxHeaderBytes: -1 })).toThrow(RangeError);
	});

	test("a length past the end of the file is InvalidHeaderLength", () => {
		const bytes = craftFile("{}", 0, 100n);
		expect(kindOf(() => parseHeader(bytes, bytes.length, FILE))).toBe("InvalidHeaderLength");
		const ok = craftFile("{}");
		expect(kindOf(() => parseHeader(ok.subarray(0, 9), ok.length, FILE))).toBe("InvalidHeaderLength");
	});

	test("returns N, and dataStart is 8 + N", () => {
		const bytes = craftFile("{}   ");
		expect(readHeaderLength(bytes, bytes.length, FILE)).toBe(5);
		expect(parseHeader(bytes, bytes.length, FILE).dataStart).toBe(13);
	});
});

describe("text and JSON syntax", () => {
	test("invalid UTF-8 is InvalidHeaderUtf8", () => {
		const text = new TextEncoder().encode('{"__metadata__":{"k":"v"}}');
		text[20] = 0xff;
		expect(kindOf(() => parse(text))).toBe("InvalidHeaderUtf8");
		expect(kindOf(() => parse(new Uint8Array([0x7b, 0xc3, 0x7d])))).toBe("InvalidHeaderUtf8"); // truncated sequence
	});

	test.each([
		["a byte-order mark", "\uFEFF{}"],
		["NUL padding", "{}\0\0\0\0"],
		["a line comment", "{} // c"],
		["a block comment", '{/* c */"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}'],
		["a trailing comma in an object", '{"__metadata__":{"k":"v",}}'],
		["a trailing comma in an array", '{"a":{"dtype":"F32","shape":[1,],"data_offsets":[0,4]}}'],
		["trailing garbage", "{}x"],
		["two objects", "{}{}"],
		["an empty header", ""],
		["only whitespace", "    "],
		["single quotes", "{'a':1}"],
		["an unquoted key", "{a:1}"],
		["a leading zero", '{"a":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}'],
		["a number ending in '.'", '{"a":{"dtype":"F32","shape":[1.],"data_offsets":[0,4]}}'],
		["an exponent without digits", '{"a":{"dtype":"F32","shape":[1e],"data_offsets":[0,4]}}'],
		["a leading plus", '{"a":{"dtype":"F32","shape":[+1],"data_offsets":[0,4]}}'],
		["NaN", '{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,4]}}'],
		["a raw newline in a string", '{"__metadata__":{"k":"a\nb"}}'],
		["a bad escape", '{"__metadata__":{"k":"\\x"}}'],
		["a lone surrogate escape", '{"__metadata__":{"k":"\\ud800"}}'],
		["an unterminated string", '{"__metadata__":{"k":"v}}'],
		["a form feed as whitespace", "\f{}"],
		[
			"nesting past the depth limit",
			`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,0],"x":${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}}}`,
		],
	])("%s is InvalidHeaderJson", (_, text) => {
		expect(kindOf(() => parse(text))).toBe("InvalidHeaderJson");
	});

	test("nesting up to the depth limit is accepted", () => {
		const deep = MAX_JSON_DEPTH - 2; // root object and the entry object take two levels
		const text = `{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":${"[".repeat(deep)}${"]".repeat(deep)}}}`;
		expect(parse(text, 4).tensors.get("a")?.shape).toEqual([]);
	});
});

describe("entries", () => {
	test("a header that is not an object is InvalidHeaderDeserialization", () => {
		expect(kindOf(() => parse("[]"))).toBe("InvalidHeaderDeserialization");
		expect(kindOf(() => parse("null"))).toBe("InvalidHeaderDeserialization");
	});

	test.each([
		["an unknown dtype", { dtype: "F128", shape: [1], data_offsets: [0, 16] }],
		["a lowercase dtype", { dtype: "f32", shape: [1], data_offsets: [0, 4] }],
		["a numeric dtype", { dtype: 4, shape: [1], data_offsets: [0, 4] }],
		["a missing dtype", { shape: [1], data_offsets: [0, 4] }],
		["a missing shape", { dtype: "F32", data_offsets: [0, 4] }],
		["missing data_offsets", { dtype: "F32", shape: [1] }],
		["shape as a number", { dtype: "F32", shape: 1, data_offsets: [0, 4] }],
		["a string dimension", { dtype: "F32", shape: ["1"], data_offsets: [0, 4] }],
		["a negative dimension", { dtype: "F32", shape: [-1], data_offsets: [0, 4] }],
		["a null dimension", { dtype: "F32", shape: [null], data_offsets: [0, 4] }],
		["three offsets", { dtype: "F32", shape: [1], data_offsets: [0, 4, 8] }],
		["one offset", { dtype: "F32", shape: [1], data_offsets: [0] }],
		["offsets as an object", { dtype: "F32", shape: [1], data_offsets: { begin: 0, end: 4 } }],
		["an entry that is a string", "F32"],
	])("%s is InvalidHeaderDeserialization", (_, entry) => {
		const err = caught(() => parse({ w: entry }, 4), SafetensorsError);
		expect(err.kind).toBe("InvalidHeaderDeserialization");
		expect(err.tensor).toBe("w");
	});

	test.each([
		["2.0", "[2.0]"],
		["2e0", "[2e0]"],
		["2E+0", "[2E+0]"],
		["-0", "[-0]"],
		["2^53", "[9007199254740992]"],
		["1e400", "[1e400]"],
	])("the dimension %s is rejected and named in the message", (_, shape) => {
		const err = caught(() => parse(`{"w":{"dtype":"U8","shape":${shape},"data_offsets":[0,2]}}`, 2), SafetensorsError);
		expect(err.kind).toBe("InvalidHeaderDeserialization");
		expect(err.message).toContain('"w"');
		expect(err.message).toContain(shape.slice(1, -1));
	});

	test("an offset written as 4.0 is rejected", () => {
		expect(kindOf(() => parse('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}}', 4))).toBe("InvalidHeaderDeserialization");
	});

	test("a field given twice inside an entry is rejected", () => {
		const text = '{"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
		expect(kindOf(() => parse(text, 4))).toBe("InvalidHeaderDeserialization");
	});

	test("duplicate tensor names are DuplicateTensor, even identical ones", () => {
		const e = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
		const err = caught(() => parse(`{"w":${e},"w":${e}}`, 4), SafetensorsError);
		expect(err.kind).toBe("DuplicateTensor");
		expect(err.tensor).toBe("w");
		const f = '{"dtype":"F32","shape":[1],"data_offsets":[4,8]}';
		expect(kindOf(() => parse(`{"w":${e},"w":${f}}`, 8))).toBe("DuplicateTensor");
	});

	test("duplicate __metadata__ is InvalidHeaderDeserialization", () => {
		expect(kindOf(() => parse('{"__metadata__":{},"__metadata__":{}}'))).toBe("InvalidHeaderDeserialization");
	});

	test.each([
		["null", "null"],
		["an array", '["a"]'],
		["a string", '"pt"'],
		["a number value", '{"format":1}'],
		["a nested object", '{"format":{"a":"b"}}'],
		["a null value", '{"format":null}'],
		["a tensor-shaped value", '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'],
		["a repeated key", '{"k":"a","k":"b"}'],
	])("__metadata__ as %s is InvalidMetadata", (_, meta) => {
		expect(kindOf(() => parse(`{"__metadata__":${meta}}`))).toBe("InvalidMetadata");
	});
});

describe("layout", () => {
	test.each([
		["a gap", { a: f32([1], 0, 4), b: f32([1], 8, 12) }, 12],
		["an overlap", { a: f32([2], 0, 8), b: f32([1], 4, 8) }, 8],
		["a first tensor not at 0", { a: f32([1], 4, 8) }, 8],
		["end before begin", { a: f32([1], 0, 4), b: f32([0], 4, 0) }, 4],
		["two names for one range", { a: f32([1], 0, 4), b: f32([1], 0, 4) }, 4],
	])("%s is InvalidOffset naming the tensor", (_, header, size) => {
		const err = caught(() => parse(header, size), SafetensorsError);
		expect(err.kind).toBe("InvalidOffset");
		expect(err.tensor).toBeDefined();
	});

	test("an element count above 2^53 - 1 is ValidationOverflow", () => {
		const err = caught(() => parse({ w: f32([2 ** 30, 2 ** 30, 2 ** 30], 0, 4) }, 4), SafetensorsError);
		expect(err.kind).toBe("ValidationOverflow");
		expect(err.tensor).toBe("w");
	});

	test("a bit count above 2^53 - 1 is ValidationOverflow", () => {
		expect(kindOf(() => parse({ w: f32([2 ** 51], 0, 4) }, 4))).toBe("ValidationOverflow");
	});

	test("a sub-byte dtype that does not fill whole bytes is MisalignedSlice", () => {
		expect(kindOf(() => parse({ w: { dtype: "F4", shape: [3], data_offsets: [0, 2] } }, 2))).toBe("MisalignedSlice");
		expect(kindOf(() => parse({ w: { dtype: "F6_E2M3", shape: [1], data_offsets: [0, 1] } }, 1))).toBe("MisalignedSlice");
	});

	test("offsets that disagree with dtype and shape are TensorInvalidInfo", () => {
		const err = caught(() => parse({ w: f32([2], 0, 4) }, 4), SafetensorsError);
		expect(err.kind).toBe("TensorInvalidInfo");
		expect(err.message).toContain("8");
		expect(err.message).toContain("4");
	});

	test("missing or trailing data bytes are MetadataIncompleteBuffer", () => {
		expect(kindOf(() => parse({ w: f32([2], 0, 8) }, 7))).toBe("MetadataIncompleteBuffer");
		expect(kindOf(() => parse({ w: f32([2], 0, 8) }, 9))).toBe("MetadataIncompleteBuffer");
		expect(kindOf(() => parse({}, 1))).toBe("MetadataIncompleteBuffer");
	});
});

describe("accepted headers", () => {
	test("leading and trailing JSON whitespace", () => {
		const h = parse(` \n\t\r{"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}  \n  `, 4);
		expect([...h.tensors.keys()]).toEqual(["w"]);
	});

	test("unknown extra fields are ignored, keys in any order", () => {
		const text = '{"w":{"data_offsets":[0,4],"extra":{"x":[1.5,null,true]},"shape":[1],"dtype":"F32","dtype2":1e9}}';
		expect(parse(text, 4).tensors.get("w")).toEqual({ name: "w", dtype: "F32", shape: [1], byteOffset: 0, byteLength: 4 });
	});

	test("unaligned offsets, returned in data-offset order", () => {
		const h = parse({ late: f32([1], 3, 7), early: { dtype: "U8", shape: [3], data_offsets: [0, 3] } }, 7);
		expect([...h.tensors.keys()]).toEqual(["early", "late"]);
		expect(h.tensors.get("late")).toEqual({ name: "late", dtype: "F32", shape: [1], byteOffset: 3, byteLength: 4 });
	});

	test("an empty object: no tensors, no metadata", () => {
		const bytes = craftFile("{}");
		expect(bytes.length).toBe(10);
		expect(parseHeader(bytes, 10, FILE)).toEqual({ tensors: new Map(), metadata: {}, dataStart: 10 });
	});

	test("metadata only, with any string keys", () => {
		const h = parse({ __metadata__: { format: "pt", __proto__x: "1" } });
		expect(h.metadata).toEqual({ format: "pt", __proto__x: "1" });
		const proto = parse('{"__metadata__":{"__proto__":"kept"}}');
		expect(Object.keys(proto.metadata)).toEqual(["__proto__"]);
		expect(Object.getOwnPropertyDescriptor(proto.metadata, "__proto__")?.value).toBe("kept");
	});

	test("shape [] and zero-size tensors", () => {
		const h = parse({ s: f32([], 0, 4), z: f32([0, 3], 4, 4), z2: f32([9007199254740991, 0], 4, 4) }, 4);
		expect(h.tensors.get("s")?.byteLength).toBe(4);
		expect(h.tensors.get("z")).toEqual({ name: "z", dtype: "F32", shape: [0, 3], byteOffset: 4, byteLength: 0 });
		expect(h.tensors.get("z2")?.byteLength).toBe(0);
	});

	test("any UTF-8 tensor name, also written as escapes", () => {
		const h = parse(
			'{"caf\\u00e9.\\ud83d\\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},' +
				'"名前 ü":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}',
			2,
		);
		expect([...h.tensors.keys()]).toEqual(["café.😀", "名前 ü", ""]);
	});

	test("every dtype, including F8, F6 and F4, with whole-byte sizes", () => {
		const header = {
			a: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] },
			b: { dtype: "F8_E5M2FNUZ", shape: [1], data_offsets: [2, 3] },
			c: { dtype: "F4", shape: [2, 3], data_offsets: [3, 6] },
			d: { dtype: "F6_E3M2", shape: [4], data_offsets: [6, 9] },
			e: { dtype: "C64", shape: [1], data_offsets: [9, 17] },
			f: { dtype: "BOOL", shape: [1], data_offsets: [17, 18] },
		};
		const h = parse(header, 18);
		expect([...h.tensors.values()].map((t) => [t.dtype, t.byteLength])).toEqual([
			["F8_E4M3", 2],
			["F8_E5M2FNUZ", 1],
			["F4", 3],
			["F6_E3M2", 3],
			["C64", 8],
			["BOOL", 1],
		]);
	});

	test("prefix buffers longer than the header are fine", () => {
		const bytes = craftFile({ w: f32([1], 0, 4) }, 4);
		expect(parseHeader(bytes, bytes.length, FILE).tensors.get("w")?.byteLength).toBe(4);
	});
});
