/**
 * Replacing an output when the file system fails at the worst moment: the rename of the new folder into place
 * fails, and so does putting the old one back. The old output must survive (and be named in the error), never
 * be deleted. rename() is wrapped so a test can make chosen calls fail.
 */
import * as fsp from "node:fs/promises";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, test, vi } from "vitest";
import { ExecError } from "../../src/errors.js";
import { ShardedWriter } from "../../src/io/sharded-writer.js";
import { rejected } from "../helpers/errors.js";
import { useTempDir } from "../helpers/fs.js";

vi.mock("node:fs/promises", async (importOriginal) => {
	const real = await importOriginal<typeof import("node:fs/promises")>();
	return { ...real, rename: vi.fn(real.rename) };
});

const root = useTempDir("lm-merge-faults-");

afterEach(() => {
	vi.mocked(fsp.rename).mockReset();
});

/** Every file under `dir` (recursively) whose content is `text`. */
async function findContent(dir: string, text: string): Promise<string[]> {
	const hits: string[] = [];
	for (const e of await readdir(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		if (e.isDirectory()) hits.push(...(await findContent(p, text)));
		else if ((await readFile(p, "utf8")) === text) hits.push(p);
	}
	return hits;
}

describe("--force replacement under failures", () => {
	test("when neither the new folder nor the old one can be renamed to the output, the old one is kept and named", async () => {
		const real = await vi.importActual<typeof import("node:fs/promises")>("node:fs/promises");
		const out = path.join(root(), "out");
		await mkdir(out);
		await writeFile(path.join(out, "precious.txt"), "the old model");
		const w = await ShardedWriter.create(out, [{ name: "w", dtype: "F32", shape: [2] }], { maxShardBytes: 1e9, force: true });
		await w.writeTensor("w", new Float32Array([1, 2]));
		vi.mocked(fsp.rename).mockImplementation(async (from, to) => {
			if (path.resolve(String(to)) === out)
				throw Object.assign(new Error(`EIO: i/o error, rename '${String(from)}' -> '${String(to)}'`), { code: "EIO" });
			return real.rename(from, to);
		});
		const e = await rejected(w.commit(), ExecError);
		expect(e.kind).toBe("Io");
		const kept = await findContent(root(), "the old model");
		expect(kept).toHaveLength(1);
		expect(e.message).toContain(path.dirname(kept[0]!));
		expect(e.message).not.toContain("\n");
	});

	test("when only the new folder cannot be renamed in, the old one is put back where it was", async () => {
		const real = await vi.importActual<typeof import("node:fs/promises")>("node:fs/promises");
		const out = path.join(root(), "out2");
		await mkdir(out);
		await writeFile(path.join(out, "precious.txt"), "old two");
		const w = await ShardedWriter.create(out, [{ name: "w", dtype: "F32", shape: [2] }], { maxShardBytes: 1e9, force: true });
		await w.writeTensor("w", new Float32Array([1, 2]));
		let failed = false;
		vi.mocked(fsp.rename).mockImplementation(async (from, to) => {
			if (!failed && path.resolve(String(to)) === out) {
				failed = true;
				throw Object.assign(new Error("EIO: i/o error"), { code: "EIO" });
			}
			return real.rename(from, to);
		});
		expect((await rejected(w.commit(), ExecError)).kind).toBe("Io");
		expect(await readFile(path.join(out, "precious.txt"), "utf8")).toBe("old two");
		await w.abort();
		expect((await readdir(root())).filter((f) => f.startsWith("out2"))).toEqual(["out2"]);
	});
});
