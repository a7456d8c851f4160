/** `convertModel`: `.bin` → safetensors, byte for byte, with config and tokenizer files, sharded when asked. */
import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { expect, test } from "vitest";
import { PlanError } from "../../src/errors.js";
import { convertModel } from "../../src/exec/convert-model.js";
import type { MergeEvent } from "../../src/exec/events.js";
import { openModel } from "../../src/model/model-dir.js";
import { REPO_ROOT } from "../helpers/cli.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";

const FIXTURES = path.join(REPO_ROOT, "test", "fixtures", "torch-bin");
const expected = JSON.parse(readFileSync(path.join(FIXTURES, "expected.json"), "utf8")) as Record<
	string,
	Record<string, { dtype: string; shape: number[]; hex: string }>
>;
const root = useTempDir("lm-merge-convert-");

async function tensors(dir: string): Promise<Record<string, readonly [string, number[], string]>> {
	const m = await openModel(dir);
	try {
		return Object.fromEntries(
			await Promise.all(
				m.names().map(async (n) => [n, [m.info(n).dtype, m.info(n).shape, Buffer.from(await m.readRaw(n)).toString("hex")]] as const),
			),
		);
	} finally {
		await m.close();
	}
}

test("a .bin model folder becomes model.safetensors with the same tensors and its config.json", async () => {
	const out = path.join(root(), "tiny");
	const events: MergeEvent[] = [];
	const result = await convertModel(path.join(FIXTURES, "tiny-mistral"), { out, onEvent: (e) => events.push(e) });
	expect((await readdir(out)).sort()).toEqual(["config.json", "model.safetensors"]);
	expect(await tensors(out)).toEqual(await tensors(path.join(FIXTURES, "tiny-mistral-st")));
	expect(await readFile(path.join(out, "config.json"), "utf8")).toBe(
		await readFile(path.join(FIXTURES, "tiny-mistral", "config.json"), "utf8"),
	);
	expect(events.map((e) => e.event)).toEqual(["planned", ...Array(result.tensors).fill("tensor"), "shardWritten", "done"]);
	expect(result.tensors).toBe(Object.keys(expected["tiny-mistral"]!).length);
});

test("strided views come out contiguous, non-float dtypes are copied as is (with a warning), and small shards get an index", async () => {
	for (const file of ["views.bin", "dtypes.bin"]) {
		const out = path.join(root(), file);
		const warnings: string[] = [];
		await convertModel(path.join(FIXTURES, file), {
			out,
			shardSize: 64,
			onEvent: (e) => e.event === "warning" && warnings.push(e.message),
		});
		expect(existsSync(path.join(out, "model.safetensors.index.json"))).toBe(true);
		const got = await tensors(out);
		for (const [name, e] of Object.entries(expected[file]!)) expect(got[name], name).toEqual([e.dtype, e.shape, e.hex]);
		if (file === "dtypes.bin")
			expect(warnings).toEqual(["i64", "i32", "i16", "i8", "u8", "bool"].map((n) => expect.stringContaining(`${n} is `)));
	}
});

test("an output inside the input is refused before anything is written", async () => {
	const err = await rejected(
		convertModel(path.join(FIXTURES, "tiny-mistral"), { out: path.join(FIXTURES, "tiny-mistral", "out") }),
		PlanError,
	);
	expect(err.kind).toBe("OutputInsideInput");
	expect(existsSync(path.join(FIXTURES, "tiny-mistral", "out"))).toBe(false);
});
