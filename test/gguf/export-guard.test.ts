import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, test } from "vitest";
import { GgufError } from "../../src/errors.js";
import { exportGguf } from "../../src/gguf/export.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-gguf-guard-");

test("--force never lets the export replace a file of the model it reads; a new file in its folder is fine", async () => {
	const dir = join(root(), "m");
	await writeTinyMistral(dir, { seed: 4 });
	for (const victim of ["model.safetensors", "config.json", "tokenizer.json"]) {
		const before = await readFile(join(dir, victim));
		const err = await exportGguf(dir, { type: "f16", out: join(dir, victim), force: true, threads: 1 }).catch((e: unknown) => e);
		expect(err, victim).toBeInstanceOf(GgufError);
		expect((err as GgufError).message).toContain("is a file of the model being exported");
		expect(await readFile(join(dir, victim)), victim).toEqual(before);
	}
	const r = await exportGguf(dir, { type: "f16", out: join(dir, "m-f16.gguf"), threads: 1 });
	expect(r.tensors).toBeGreaterThan(0);
});
