/**
 * FIFOs, sockets and devices named where a file is expected are refused at once (issue 12, item 13): before,
 * a FIFO blocked the open forever and `/dev/zero` was read until the string limit. Each entry point that reads
 * a user-named file is covered: model weights, config.json, recipes, the alias file, eval data, tokenizers.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { EvaluationError, ModelError, RecipeError, SafetensorsError } from "../../src/errors.js";
import { readDataFile } from "../../src/eval/tasks/records.js";
import { loadTokenizer } from "../../src/eval/tokenizer.js";
import { openSafetensors } from "../../src/io/reader.js";
import { openRegularFile, readRegularFile, readRegularText } from "../../src/io/regular-file.js";
import { loadUserAliases } from "../../src/model/aliases.js";
import { openModel } from "../../src/model/model-dir.js";
import { loadRecipe } from "../../src/recipe/load.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

/** Every case must fail fast; a hang (the old behaviour on a FIFO) fails the test at this bound instead. */
const FAST_MS = 5_000;

const root = useTempDir("lm-merge-regular-");
let fifo: string;
let model: string;
const fail = (why: string) => new Error(why);

beforeAll(async () => {
	fifo = path.join(root(), "pipe");
	execFileSync("mkfifo", [fifo]);
	model = path.join(root(), "model");
	await writeTinyMistral(model, { seed: 1, layers: 1 });
});

/** A model folder whose `name` is a FIFO and whose other files come from the tiny model. */
async function folderWithFifo(name: string): Promise<string> {
	const dir = path.join(root(), `fifo-${name}`);
	await mkdir(dir, { recursive: true });
	for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
		if (f !== name) await copyFile(path.join(model, f), path.join(dir, f));
	}
	execFileSync("mkfifo", [path.join(dir, name)]);
	return dir;
}

describe("openRegularFile / readRegularFile", () => {
	test("reads a regular file whole", async () => {
		const file = path.join(root(), "text.txt");
		await writeFile(file, "\uFEFFhello");
		expect((await readRegularFile(file, { maxBytes: 100, fail })).length).toBe(8);
		expect(await readRegularText(file, { maxBytes: 100, fail })).toBe("hello");
	});

	test.each([
		["a FIFO", () => fifo, "is a FIFO (named pipe), not a regular file"],
		["a character device", () => "/dev/zero", "is a character device, not a regular file"],
		["a directory", () => root(), "is a directory, not a regular file"],
	])("refuses %s without reading it", { timeout: FAST_MS }, async (_, file, message) => {
		await expect(openRegularFile(file(), fail)).rejects.toThrow(message);
		await expect(readRegularFile(file(), { maxBytes: 1e9, fail })).rejects.toThrow(message);
	});

	test("refuses a file above the limit before reading it; open errors pass through with their code", async () => {
		const file = path.join(root(), "big.txt");
		await writeFile(file, "x".repeat(101));
		await expect(readRegularFile(file, { maxBytes: 100, fail })).rejects.toThrow("is 101 bytes, above the 100-byte limit");
		await expect(readRegularFile(path.join(root(), "missing"), { maxBytes: 100, fail })).rejects.toMatchObject({ code: "ENOENT" });
	});
});

describe("entry points refuse non-regular files at once", () => {
	test("a safetensors file that is a FIFO or /dev/zero", { timeout: FAST_MS }, async () => {
		for (const file of [fifo, "/dev/zero"]) {
			const err = await rejected(openSafetensors(file), SafetensorsError);
			expect(err.kind).toBe("IoError");
			expect(err.message).toMatch(/not a regular file/);
		}
	});

	test("a model folder whose model.safetensors is a FIFO", { timeout: FAST_MS }, async () => {
		const err = await rejected(openModel(await folderWithFifo("model.safetensors")), SafetensorsError);
		expect(err.message).toMatch(/model\.safetensors: is a FIFO/);
	});

	test("a model folder whose config.json is a FIFO", { timeout: FAST_MS }, async () => {
		const err = await rejected(openModel(await folderWithFifo("config.json")), ModelError);
		expect(err.kind).toBe("InvalidConfig");
		expect(err.message).toMatch(/config\.json: is a FIFO/);
	});

	test("a recipe file that is a FIFO or a device", { timeout: FAST_MS }, async () => {
		for (const file of [fifo, "/dev/zero"]) {
			const err = await rejected(loadRecipe(file), RecipeError);
			expect(err.message).toMatch(/recipe is a (FIFO \(named pipe\)|character device), not a regular file/);
		}
	});

	test("an alias file that is a FIFO", { timeout: FAST_MS }, async () => {
		const err = await rejected(loadUserAliases({ aliasesFile: fifo }), ModelError);
		expect(err.kind).toBe("InvalidConfig");
		expect(err.message).toBe(`${fifo}: is a FIFO (named pipe), not a regular file`);
	});

	test("eval data: --data /dev/zero and a FIFO are refused, not read to the string limit", { timeout: FAST_MS }, async () => {
		for (const file of ["/dev/zero", fifo]) {
			const err = await rejected(readDataFile(file), EvaluationError);
			expect(err.kind).toBe("Data");
			expect(err.message).toMatch(/not a regular file$/);
		}
	});

	test("a tokenizer.json that is a FIFO", { timeout: FAST_MS }, async () => {
		const err = await rejected(loadTokenizer(await folderWithFifo("tokenizer.json")), EvaluationError);
		expect(err.kind).toBe("Tokenizer");
		expect(err.message).toMatch(/tokenizer\.json: is a FIFO/);
	});

	test("the fixtures are what the cases above assume", () => {
		expect(existsSync(path.join(model, "tokenizer_config.json"))).toBe(true);
	});
});
