/**
 * Direct (O_DIRECT) I/O of streamed jobs: page-split writes land every byte where plain writes would, and merges
 * give the same bytes with direct reads and writes on or off, with every, some or no chunks kept between passes.
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { open, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { copyChunked } from "../../src/exec/chunked-job.js";
import { mergeModels } from "../../src/exec/merge-models.js";
import { alignedSpan, allocAligned, DIRECT_ALIGN } from "../../src/io/aligned.js";
import { openSafetensors } from "../../src/io/reader.js";
import { writeAtAligned } from "../../src/io/writer.js";
import { parseRecipe } from "../../src/recipe/load.js";
import { acceptsDirectIo, useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";
import { concatBytes, craftFile } from "../io/safetensors-bytes.js";

const root = useTempDir("lm-merge-direct-io-");

afterEach(() => {
	delete process.env.LM_MERGE_DIRECT_IO;
});

describe("writeAtAligned", () => {
	const PAGES = 6;
	const FILL = 0xee;
	/** [position, length] pairs: inside one page, across pages, whole pages, empty, nearly the whole file. */
	const CASES: [number, number][] = [
		[0, DIRECT_ALIGN],
		[100, 50],
		[100, 2 * DIRECT_ALIGN],
		[DIRECT_ALIGN, 2 * DIRECT_ALIGN + 5],
		[4000, 200],
		[DIRECT_ALIGN * 2, 0],
		[3, PAGES * DIRECT_ALIGN - 13],
	];

	/** `len` pattern bytes at an address congruent to `position` modulo the page size (or one byte off). */
	const bytesFor = (position: number, len: number, skew = 0) => {
		const at = (position % DIRECT_ALIGN) + skew;
		const bytes = allocAligned(alignedSpan(len) + DIRECT_ALIGN).subarray(at, at + len);
		for (let i = 0; i < len; i++) bytes[i] = (i * 7 + position) & 255;
		return bytes;
	};

	async function check(position: number, len: number, useDirect: boolean, skew = 0): Promise<boolean> {
		const file = path.join(root(), `w-${position}-${len}-${useDirect}-${skew}.bin`);
		await writeFile(file, new Uint8Array(PAGES * DIRECT_ALIGN).fill(FILL));
		const handle = await open(file, "r+");
		const direct = useDirect && acceptsDirectIo(file, true) ? await open(file, constants.O_WRONLY | constants.O_DIRECT) : null;
		const bytes = bytesFor(position, len, skew);
		let accepted: boolean;
		try {
			accepted = await writeAtAligned(handle, direct, bytes, position, file);
		} finally {
			await direct?.close();
			await handle.close();
		}
		const expected = new Uint8Array(PAGES * DIRECT_ALIGN).fill(FILL);
		expected.set(bytes, position);
		expect(new Uint8Array(await readFile(file))).toEqual(expected);
		return accepted;
	}

	test.each(CASES)("bytes at %d (%d of them) land there, and only there, with a direct handle", async (position, len) => {
		expect(await check(position, len, true)).toBe(true);
	});

	test.each(CASES)("bytes at %d (%d of them) land there without one", async (position, len) => {
		expect(await check(position, len, false)).toBe(true);
	});

	test.skipIf(!acceptsDirectIo(path.join(import.meta.dirname, "direct-io.test.ts"), true))(
		"a buffer off the page alignment is refused for direct writes: false, and the bytes still land",
		async () => {
			expect(await check(100, 3 * DIRECT_ALIGN, true, 1)).toBe(false);
		},
	);
});

describe("copyChunked (passthrough of raw bytes)", () => {
	const BYTES = 50_000 + 77;
	const data = Uint8Array.from({ length: BYTES }, (_, i) => (i * 13 + (i >> 9)) & 255);

	// Input offsets 3 (data start 8 + header) and output offsets chosen to sit at the same or another place in a page.
	test.each([5, 4096 + 3, 0])(
		"a tensor copied in 16 KiB chunks to output offset %d lands byte for byte, its whole pages written directly",
		async (outAt) => {
			const input = path.join(root(), `copy-in-${outAt}.safetensors`);
			await writeFile(
				input,
				craftFile(
					{ pad: { dtype: "U8", shape: [3], data_offsets: [0, 3] }, t: { dtype: "U8", shape: [BYTES], data_offsets: [3, 3 + BYTES] } },
					concatBytes(new Uint8Array(3), data),
				),
			);
			const output = path.join(root(), `copy-out-${outAt}.bin`);
			await writeFile(output, new Uint8Array(outAt + BYTES + 100).fill(0xee));
			const source = await openSafetensors(input);
			const handle = await open(output, "r+");
			const direct = { handle: acceptsDirectIo(output, true) ? await open(output, constants.O_WRONLY | constants.O_DIRECT) : null };
			try {
				await copyChunked({
					source,
					tensor: "t",
					byteLength: BYTES,
					out: { handle, direct, file: output, name: "t", dtype: "BF16", position: outAt },
					chunkBytes: 16_384,
				});
				// The direct handle was not refused (it would be set to null).
				expect(direct.handle === null).toBe(!acceptsDirectIo(output, true));
			} finally {
				await direct.handle?.close();
				await handle.close();
				await source.close();
			}
			const expected = new Uint8Array(outAt + BYTES + 100).fill(0xee);
			expected.set(data, outAt);
			expect(new Uint8Array(await readFile(output))).toEqual(expected);
		},
	);
});

describe("merges with direct I/O", () => {
	let A: string;
	let B: string;
	beforeAll(async () => {
		A = path.join(root(), "a");
		B = path.join(root(), "b");
		// MLP weights of 256 × 520 = 133,120 bf16 values: streamed in 8 Ki-element (16 KiB) chunks below, so chunks
		// hold whole pages and start inside pages.
		await writeTinyMistral(A, { seed: 21, layers: 2, hidden: 256, intermediate: 520, heads: 4, kvHeads: 2 });
		await writeTinyMistral(B, { seed: 22, base: A, delta: 0.01 });
	});

	async function digest(dir: string): Promise<string> {
		const hash = createHash("sha256");
		for (const f of (await readdir(dir)).sort()) if (f.endsWith(".safetensors")) hash.update(await readFile(path.join(dir, f)));
		return hash.digest("hex");
	}

	test.each([
		["ties", `merge_method: ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 0.5, density: 0.4}}]\n`],
		[
			"ties (L1 rescale, weight 0.3)",
			`merge_method: ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 0.3, density: 0.4}}]\nparameters: {rescale: true}\n`,
		],
		["dare_ties", `merge_method: dare_ties\nbase_model: $A\nmodels: [{model: $B, parameters: {weight: 0.5, density: 0.5}}]\nseed: 4\n`],
		["slerp", `merge_method: slerp\nbase_model: $A\nmodels: [{model: $B}]\nparameters: {t: 0.4}\n`],
		["linear", `merge_method: linear\nmodels: [{model: $A, parameters: {weight: 0.3}}, {model: $B, parameters: {weight: 0.7}}]\n`],
	])("%s: the same bytes with direct I/O on or off, and every, some or no chunks kept", async (label, yaml) => {
		const recipe = () => parseRecipe(yaml.replaceAll("$A", A).replaceAll("$B", B));
		const slug = label.replace(/\W+/g, "-");
		process.env.LM_MERGE_DIRECT_IO = "0";
		await mergeModels(recipe(), { out: path.join(root(), `${slug}-plain`), threads: 1 });
		const plain = await digest(path.join(root(), `${slug}-plain`));
		await mergeModels(recipe(), { out: path.join(root(), `${slug}-plain-chunked`), threads: 2, chunkElements: 8192 });
		expect(await digest(path.join(root(), `${slug}-plain-chunked`))).toBe(plain);
		delete process.env.LM_MERGE_DIRECT_IO;
		for (const [name, holdBytes] of [
			["all", undefined],
			["some", 100_000],
			["none", 0],
		] as const) {
			const out = path.join(root(), `${slug}-direct-${name}`);
			await mergeModels(recipe(), { out, threads: 2, chunkElements: 8192, ...(holdBytes !== undefined ? { holdBytes } : {}) });
			expect(await digest(out), `${name} kept`).toBe(plain);
		}
		const one = path.join(root(), `${slug}-direct-t1`);
		await mergeModels(recipe(), { out: one, threads: 1, chunkElements: 8192, holdBytes: 50_000 });
		expect(await digest(one)).toBe(plain);
	});
});
