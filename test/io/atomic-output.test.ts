/**
 * The output-safety guarantees, through ShardedWriter (the public streaming writer, which existed before them)
 * and AtomicOutput itself: normal permissions, an unfinished folder no reader takes for a model, one writer
 * per output, an interrupted replacement undone, and single-file outputs.
 */
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { ExecError, ModelError, PlanError } from "../../src/errors.js";
import { AtomicOutput, isPartialName, UNFINISHED_MARKER, unfinishedOutputOf } from "../../src/io/atomic-output.js";
import { LOCK_SUFFIX } from "../../src/io/output-lock.js";
import { ShardedWriter } from "../../src/io/sharded-writer.js";
import { openModel } from "../../src/model/model-dir.js";
import { rejected } from "../helpers/errors.js";
import { exists, useTempDir } from "../helpers/fs.js";

const root = useTempDir("lm-merge-atomic-");
let n = 0;
const fresh = () => path.join(root(), `case${n++}`, "out");

const entries = [
	{ name: "embed", dtype: "BF16", shape: [4, 2] },
	{ name: "head", dtype: "BF16", shape: [4, 2] },
] as const;

async function writeModel(out: string, opts: { force?: boolean; maxShardBytes?: number } = {}): Promise<ShardedWriter> {
	const w = await ShardedWriter.create(out, entries, {
		maxShardBytes: opts.maxShardBytes ?? 1e9,
		...(opts.force !== undefined ? { force: opts.force } : {}),
	});
	for (const e of entries) await w.writeTensor(e.name, new Float32Array(8).fill(1));
	await w.writeFile("config.json", "{}\n");
	return w;
}

const umaskAtStart = process.umask();
afterEach(() => {
	process.umask(umaskAtStart);
});

describe("permissions", () => {
	test.each([
		["022", 0o022, 0o755, 0o644],
		["027", 0o027, 0o750, 0o640],
		["002", 0o002, 0o775, 0o664],
	])(
		"umask %s: the output folder is 0777 and its files 0666 minus the umask (not mkdtemp's 0700)",
		async (_name, umask, dirMode, fileMode) => {
			process.umask(umask);
			const out = fresh();
			await (await writeModel(out)).commit();
			expect((await stat(out)).mode & 0o777).toBe(dirMode);
			for (const f of await readdir(out)) expect((await stat(path.join(out, f))).mode & 0o777, f).toBe(fileMode);
		},
	);
});

describe("an unfinished output is recognisable by every reader", () => {
	test(
		"until commit the temporary folder holds the marker, " + "a shard has its final name only once complete, and openModel refuses it",
		async () => {
			const out = fresh();
			const w = await ShardedWriter.create(out, entries, { maxShardBytes: 16 });
			await w.writeTensor("embed", new Float32Array(8));
			const names = await readdir(w.tempDir);
			expect(names).toContain(UNFINISHED_MARKER);
			expect(names).toContain("model-00001-of-00002.safetensors");
			expect(names).not.toContain("model-00002-of-00002.safetensors");
			// The streaming writer creates shard 2 at its first tensor; mid-way it is not under its final name either.
			await w.writeTensor("head", new Float32Array(8));
			// Every shard complete, yet not committed: still unfinished (no index yet, and the marker says so).
			const e = await rejected(openModel(w.tempDir), ModelError);
			expect(e.kind).toBe("UnfinishedMerge");
			expect(e.message).toContain(out);
			await w.commit();
			expect(await readdir(out)).not.toContain(UNFINISHED_MARKER);
			await (await openModel(out)).close();
		},
	);

	test("a single-shard output has no model.safetensors until that shard is complete", async () => {
		const out = fresh();
		const w = await ShardedWriter.create(out, entries, { maxShardBytes: 1e9 });
		await w.writeTensor("embed", new Float32Array(8));
		expect(await readdir(w.tempDir)).toEqual(expect.not.arrayContaining(["model.safetensors"]));
		expect((await rejected(openModel(w.tempDir), ModelError)).kind).toBe("UnfinishedMerge");
		await w.abort();
	});

	test("isPartialName and unfinishedOutputOf", async () => {
		expect(isPartialName("x.partial-Ab12Cd")).toBe(true);
		expect(isPartialName("x.partial-Ab12C")).toBe(false);
		expect(isPartialName(".partial-Ab12Cd")).toBe(false);
		expect(await unfinishedOutputOf(path.join(root(), "m.partial-Zz99Zz"))).toBe(path.join(root(), "m"));
		expect(await unfinishedOutputOf(root())).toBeUndefined();
	});
});

describe("one writer per output", () => {
	test("a second writer of the same output is refused while the first runs, and allowed after", async () => {
		const out = fresh();
		const first = await writeModel(out);
		const e = await rejected(ShardedWriter.create(out, entries, { maxShardBytes: 1e9 }), ExecError);
		expect(e.kind).toBe("Locked");
		expect(e.message).toContain(`pid ${process.pid}`);
		await first.commit();
		expect(await exists(out + LOCK_SUFFIX)).toBe(false);
		await (await writeModel(out, { force: true })).commit();
		expect((await readdir(path.dirname(out))).sort()).toEqual(["out"]);
	});
});

test("a writer whose lock file was deleted under it does not put its output in place", async () => {
	const out = fresh();
	const w = await writeModel(out);
	const { unlink } = await import("node:fs/promises");
	await unlink(out + LOCK_SUFFIX);
	const e = await rejected(w.commit(), ExecError);
	expect(e.kind).toBe("Locked");
	expect(await exists(out)).toBe(false);
	await w.abort();
	expect(await readdir(path.dirname(out))).toEqual([]);
});

describe("replacing with force", () => {
	test("the old folder stays whole until the new one is complete, and nothing is left beside the output", async () => {
		const out = fresh();
		await mkdir(out, { recursive: true });
		await writeFile(path.join(out, "old.txt"), "old");
		const w = await writeModel(out, { force: true });
		expect(await readFile(path.join(out, "old.txt"), "utf8")).toBe("old");
		await w.commit();
		expect((await readdir(out)).sort()).toEqual(["config.json", "model.safetensors"]);
		expect(await readdir(path.dirname(out))).toEqual(["out"]);
	});

	test(
		"a crash between moving the old output aside and " + "renaming the new one in leaves <out>.old-XXXXXX: the next run restores it",
		async () => {
			const out = fresh();
			const aside = `${out}.old-Qw12Er`;
			await mkdir(aside, { recursive: true });
			await writeFile(path.join(aside, "old.txt"), "old");
			const e = await rejected(ShardedWriter.create(out, entries, { maxShardBytes: 1e9 }), PlanError);
			expect(e.kind).toBe("OutputExists");
			expect(await readFile(path.join(out, "old.txt"), "utf8")).toBe("old");
			expect(await exists(aside)).toBe(false);
		},
	);
});

describe("AtomicOutput for a single file", () => {
	test("the file appears only at commit, replaces an old one only with force, and abort leaves nothing", async () => {
		const out = `${fresh()}.gguf`;
		await mkdir(path.dirname(out), { recursive: true });
		const a = await AtomicOutput.begin(out, { kind: "file" });
		expect(isPartialName(path.basename(a.temp))).toBe(true);
		await writeFile(a.temp, "one");
		expect(await exists(out)).toBe(false);
		await a.commit();
		expect(await readFile(out, "utf8")).toBe("one");
		expect((await rejected(AtomicOutput.begin(out, { kind: "file" }), PlanError)).kind).toBe("OutputExists");
		const b = await AtomicOutput.begin(out, { kind: "file", force: true });
		await writeFile(b.temp, "two");
		await b.abort();
		expect(await readFile(out, "utf8")).toBe("one");
		const c = await AtomicOutput.begin(out, { kind: "file", force: true });
		await writeFile(c.temp, "three");
		await c.commit();
		expect(await readFile(out, "utf8")).toBe("three");
		expect(await readdir(path.dirname(out))).toEqual([path.basename(out)]);
	});

	test("the destination checks apply: an input's file is never the output, a folder is not a file", async () => {
		const out = `${fresh()}.gguf`;
		await mkdir(path.dirname(out), { recursive: true });
		await writeFile(out, "input");
		const e = await rejected(AtomicOutput.begin(out, { kind: "file", force: true, inputs: [{ path: out, label: "model M" }] }), PlanError);
		expect(e.kind).toBe("OutputInsideInput");
		expect((await rejected(AtomicOutput.begin(path.dirname(out), { kind: "file", force: true }), PlanError)).kind).toBe("OutputExists");
		expect(await readFile(out, "utf8")).toBe("input");
	});
});
