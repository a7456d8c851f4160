/**
 * The `.bin` reader against real torch.save files (test/fixtures/torch-bin, written by scripts/torch-bin/generate.py
 * with PyTorch 1.13): every tensor's bytes equal what torch itself reported, in both formats, for every storage type,
 * and for views that share storages with offsets, slices, transposes, steps and stride 0.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { SafetensorsError } from "../../../src/errors.js";
import { decodeToF32 } from "../../../src/io/convert.js";
import { type Dtype, isFloatDtype } from "../../../src/io/dtypes.js";
import { openTorchBin, type TorchBinFile } from "../../../src/io/torch-bin/torch-bin-file.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import { rejected } from "../../helpers/errors.js";

const FIXTURES = path.join(REPO_ROOT, "test", "fixtures", "torch-bin");

interface Expected {
	dtype: Dtype;
	shape: number[];
	hex: string;
}
const expected = JSON.parse(readFileSync(path.join(FIXTURES, "expected.json"), "utf8")) as Record<string, Record<string, Expected>>;
const bytesOf = (hex: string) => Uint8Array.from(Buffer.from(hex, "hex"));

const open: TorchBinFile[] = [];
afterEach(async () => {
	await Promise.all(open.splice(0).map((f) => f.close()));
});
async function openFixture(rel: string): Promise<TorchBinFile> {
	const f = await openTorchBin(path.join(FIXTURES, rel));
	open.push(f);
	return f;
}

describe.each([
	["tiny-mistral/pytorch_model.bin", "tiny-mistral", "zip"],
	["tiny-mistral-legacy/pytorch_model.bin", "tiny-mistral", "legacy"],
	["dtypes.bin", "dtypes.bin", "zip"],
	["views.bin", "views.bin", "zip"],
	["views-legacy.bin", "views-legacy.bin", "legacy"],
])("%s", (rel, key, format) => {
	const want = expected[key]!;

	test("lists every tensor in state-dict order with torch's dtype and shape", async () => {
		const f = await openFixture(rel);
		expect(f.format).toBe(format);
		expect(f.names()).toEqual(Object.keys(want));
		for (const [name, e] of Object.entries(want)) {
			const info = f.info(name);
			expect([name, info.dtype, info.shape]).toEqual([name, e.dtype, e.shape]);
			expect(info.byteLength).toBe(e.hex.length / 2);
		}
	});

	test("readRaw gives the bytes torch reported, whole and in element-aligned pieces", async () => {
		const f = await openFixture(rel);
		for (const [name, e] of Object.entries(want)) {
			const all = bytesOf(e.hex);
			expect(Buffer.from(await f.readRaw(name)).toString("hex"), name).toBe(e.hex);
			const el =
				all.length /
				Math.max(
					1,
					e.shape.reduce((a, d) => a * d, 1),
				);
			// Every split point of a few: [0, k·el) and [k·el, end) reassemble the tensor.
			for (const k of [1, 2, 5]) {
				const cut = Math.min(all.length, k * el);
				const into = new Uint8Array(all.length - cut);
				const a = await f.readRaw(name, 0, cut);
				const b = await f.readRaw(name, cut, all.length, into);
				expect(b).toBe(into);
				expect(Buffer.concat([a, b]).toString("hex"), `${name} split at ${cut}`).toBe(e.hex);
			}
		}
	});

	test("read and readRows decode float tensors to float32", async () => {
		const f = await openFixture(rel);
		for (const [name, e] of Object.entries(want)) {
			if (!isFloatDtype(e.dtype)) {
				await expect(f.read(name)).rejects.toMatchObject({ kind: "UnsupportedDtype" });
				continue;
			}
			const values = decodeToF32(bytesOf(e.hex), e.dtype);
			expect(Array.from((await f.read(name)).data), name).toEqual(Array.from(values));
			if (e.shape.length === 2 && e.shape[0]! >= 2) {
				const cols = e.shape[1]!;
				const rows = await f.readRows(name, 1, 2);
				expect(rows.shape).toEqual([1, cols]);
				expect(Array.from(rows.data)).toEqual(Array.from(values.subarray(cols, 2 * cols)));
			}
		}
	});
});

test("tied tensors (one storage under two names) read the same bytes", async () => {
	const f = await openFixture("views.bin");
	expect(Buffer.from(await f.readRaw("lm_head.weight"))).toEqual(Buffer.from(await f.readRaw("embed.weight")));
});

test("a missing tensor and out-of-range reads are SafetensorsError kinds, as for safetensors files", async () => {
	const f = await openFixture("views.bin");
	expect(() => f.info("nope")).toThrow(expect.objectContaining({ kind: "TensorNotFound" }));
	await expect(f.readRaw("base", 0, 10_000)).rejects.toMatchObject({ kind: "InvalidRange" });
	// A strided view is read by whole elements only.
	const err = await rejected(f.readRaw("transposed", 1, 5), SafetensorsError);
	expect(err.kind).toBe("InvalidRange");
	await f.close();
	await expect(f.readRaw("base")).rejects.toMatchObject({ kind: "IoError" });
});
