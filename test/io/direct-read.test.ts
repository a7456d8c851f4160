import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { SafetensorsError } from "../../src/errors.js";
import { alignedSpan, allocAligned, DIRECT_ALIGN } from "../../src/io/aligned.js";
import { openSafetensors, type SafetensorsFile } from "../../src/io/reader.js";
import { rejected } from "../helpers/errors.js";
import { acceptsDirectIo } from "../helpers/fs.js";
import { concatBytes, craftFile } from "./safetensors-bytes.js";

// Two byte tensors whose values follow their offsets: "a" spans several pages and starts at an odd offset, "b" ends
// the file at an offset that is not a multiple of the page size.
const A_BYTES = 3 * DIRECT_ALIGN + 123;
const B_BYTES = 2 * DIRECT_ALIGN + 77;
const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed + (i >> 8)) & 255);
const A = pattern(A_BYTES, 5);
const B = pattern(B_BYTES, 11);
const HEADER = {
	pad: { dtype: "U8", shape: [3], data_offsets: [0, 3] },
	a: { dtype: "U8", shape: [A_BYTES], data_offsets: [3, 3 + A_BYTES] },
	b: { dtype: "U8", shape: [B_BYTES], data_offsets: [3 + A_BYTES, 3 + A_BYTES + B_BYTES] },
};

// Written when the module loads, so whether its file system takes direct reads is known when tests are declared.
const dir = mkdtempSync(join(tmpdir(), "lm-merge-direct-"));
const path = join(dir, "model.safetensors");
writeFileSync(path, craftFile(HEADER, concatBytes(new Uint8Array([1, 2, 3]), A, B)));
const DIRECT = acceptsDirectIo(path);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(() => {
	delete process.env.LM_MERGE_DIRECT_IO;
});

const RANGES: [string, number, number][] = [
	["a", 0, A_BYTES],
	["a", 1, 2],
	["a", 4095, 4097],
	["a", 100, 3 * DIRECT_ALIGN],
	["a", A_BYTES - 1, A_BYTES],
	["b", 0, B_BYTES],
	["b", B_BYTES - 77, B_BYTES],
	["b", 5, 5],
];

describe("readRawAligned", () => {
	let file: SafetensorsFile;
	beforeAll(async () => {
		file = await openSafetensors(path);
	});
	afterAll(async () => {
		await file.close();
	});

	test.each(RANGES)("%s[%d, %d) holds the same bytes as readRaw", async (name, start, end) => {
		const got = await file.readRawAligned(name, start, end, allocAligned(alignedSpan(end - start)));
		expect(got).toEqual(await file.readRaw(name, start, end));
	});

	test.skipIf(!DIRECT)("reads whole pages around the range when the file system allows direct reads", async () => {
		const info = file.info("a");
		const position = file.header.dataStart + info.byteOffset + 100;
		const scratch = allocAligned(alignedSpan(1000));
		const got = await file.readRawAligned("a", 100, 1100, scratch);
		// The view starts where the range sits in its first page: the read began at the page boundary.
		expect(got.buffer).toBe(scratch.buffer);
		expect(got.byteOffset).toBe(position % DIRECT_ALIGN);
		expect(got).toEqual(A.subarray(100, 1100));
	});

	test("a scratch buffer smaller than alignedSpan is InvalidRange", async () => {
		const err = await rejected(file.readRawAligned("a", 0, 5000, allocAligned(5000)), SafetensorsError);
		expect(err.kind).toBe("InvalidRange");
		expect(err.message).toContain('tensor "a"');
	});

	test("a range outside the tensor is InvalidRange", async () => {
		expect((await rejected(file.readRawAligned("b", 0, B_BYTES + 1, allocAligned(alignedSpan(B_BYTES + 1))), SafetensorsError)).kind).toBe(
			"InvalidRange",
		);
	});
});

describe("readRawAligned without direct reads", () => {
	test("LM_MERGE_DIRECT_IO=0 reads ordinarily, at the scratch buffer's start", async () => {
		process.env.LM_MERGE_DIRECT_IO = "0";
		const file = await openSafetensors(path);
		try {
			const scratch = allocAligned(alignedSpan(1000));
			const got = await file.readRawAligned("a", 100, 1100, scratch);
			expect(got.byteOffset).toBe(0);
			expect(got).toEqual(A.subarray(100, 1100));
		} finally {
			await file.close();
		}
	});

	test("a buffer the system refuses for direct reads falls back to ordinary reads, with the same bytes", async () => {
		const file = await openSafetensors(path);
		try {
			// One byte past an aligned start: O_DIRECT refuses it (EINVAL) where alignment is enforced.
			const unaligned = allocAligned(alignedSpan(B_BYTES) + 1).subarray(1);
			expect(await file.readRawAligned("b", 0, B_BYTES, unaligned)).toEqual(B);
			// From then on the file is read ordinarily, at the start of whatever buffer is given.
			const again = await file.readRawAligned("a", 7, 4000, allocAligned(alignedSpan(3993)));
			expect(again).toEqual(A.subarray(7, 4000));
			if (DIRECT) expect(again.byteOffset).toBe(0);
		} finally {
			await file.close();
		}
	});

	test("a closed file is an IoError naming it", async () => {
		const file = await openSafetensors(path);
		await file.close();
		const err = await rejected(file.readRawAligned("a", 0, 10, allocAligned(alignedSpan(10))), SafetensorsError);
		expect(err.kind).toBe("IoError");
		expect(err.message).toContain(path);
	});
});

describe("allocAligned", () => {
	test("gives zeroed views of exactly the asked length, at the start of their memory", () => {
		for (const n of [1, 4096, 65537, 3 << 20]) {
			const b = allocAligned(n);
			expect(b.byteLength).toBe(n);
			expect(b.byteOffset).toBe(0);
			expect(b.buffer.byteLength % 65536).toBe(0);
			expect(b.every((v) => v === 0)).toBe(true);
		}
	});

	test("alignedSpan covers any start within a page", () => {
		expect(alignedSpan(0)).toBe(0);
		expect(alignedSpan(1)).toBe(2 * DIRECT_ALIGN);
		expect(alignedSpan(DIRECT_ALIGN)).toBe(2 * DIRECT_ALIGN);
		expect(alignedSpan(DIRECT_ALIGN + 1)).toBe(3 * DIRECT_ALIGN);
	});
});
