import { readFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import { expect, test } from "vitest";
import { PlanError } from "../../src/errors.js";
import { convertModel } from "../../src/exec/convert-model.js";
import { extractLoraAdapter } from "../../src/lora/extract-folder.js";
import { useTempDir } from "../helpers/fs.js";
import { writeTinyMistral } from "../helpers/tiny-model.js";

const root = useTempDir("lm-merge-convert-guard-");

test("convert and extract-lora refuse an output that is their input reached through a symlink, even with force", async () => {
	const dir = join(root(), "m");
	await writeTinyMistral(dir, { seed: 5 });
	await writeTinyMistral(join(root(), "t"), { seed: 6, base: dir });
	await symlink(dir, join(root(), "alias"));
	const before = await readFile(join(dir, "model.safetensors"));
	const convert = await convertModel(join(root(), "alias"), { out: dir, force: true }).catch((e: unknown) => e);
	expect(convert).toBeInstanceOf(PlanError);
	expect((convert as PlanError).kind).toBe("OutputInsideInput");
	const extract = await extractLoraAdapter(join(root(), "alias"), join(root(), "t"), { rank: 2, out: dir, force: true }).catch(
		(e: unknown) => e,
	);
	expect(extract).toBeInstanceOf(PlanError);
	expect((extract as PlanError).kind).toBe("OutputInsideInput");
	expect(await readFile(join(dir, "model.safetensors"))).toEqual(before);
});
