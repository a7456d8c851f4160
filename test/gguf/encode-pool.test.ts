import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, test } from "vitest";
import { useTempDir } from "../helpers/fs.js";

const tmp = useTempDir("lm-merge-encode-pool-");
const POOL = pathToFileURL(join(import.meta.dirname, "..", "..", "src", "gguf", "encode-pool.ts")).href;

/**
 * The pool's workers are unref'd so an idle pool never holds a process open; a worker with work in flight must
 * be ref'd, or a process whose only pending work is an encode exits with code 0 mid-export (seen in the llama
 * bench: the export of a q8_0 GGUF stopped after its first tensor, silently).
 */
test("a process whose only pending work is an encode, then closing the pool, waits for both", async () => {
	const script = join(tmp(), "encode-only.mts");
	await writeFile(
		script,
		`import { EncodePool } from ${JSON.stringify(POOL)};
const pool = new EncodePool(2);
const bytes = await pool.encode("Q8_0", new Float32Array(32 * 1024).fill(0.5));
console.log("encoded", bytes.length);
await pool.close();
console.log("closed");
`,
	);
	const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: join(import.meta.dirname, "..", ".."), stdio: ["ignore", "pipe", "pipe"] });
	let out = "";
	let err = "";
	child.stdout.on("data", (d: Buffer) => (out += d.toString()));
	child.stderr.on("data", (d: Buffer) => (err += d.toString()));
	const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
	expect(err).toBe("");
	expect(out.trim().split("\n")).toEqual([`encoded ${1024 * 34}`, "closed"]);
	expect(code).toBe(0);
}, 60_000);
