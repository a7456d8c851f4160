import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, test } from "vitest";
import { useTempDir } from "../helpers/fs.js";

const tmp = useTempDir("lm-merge-encode-pool-");
const SRC = (file: string) => pathToFileURL(join(import.meta.dirname, "..", "..", "src", ...file.split("/"))).href;

/**
 * An export whose only pending work is on the worker threads must keep the process alive until the file is
 * complete: with unref'd workers a q8_0 export once stopped after its first tensor, exit code 0, silently (seen in
 * the llama bench). Run in a child process, where nothing else holds the event loop open.
 */
test("a process whose only pending work is a threaded export waits for it, and exits once the pool is closed", async () => {
	const script = join(tmp(), "export-only.mts");
	await writeFile(
		script,
		`import { writeTinyMistral } from ${JSON.stringify(SRC("fixtures/tiny-model.ts"))};
import { exportGguf } from ${JSON.stringify(SRC("gguf/export.ts"))};
await writeTinyMistral(${JSON.stringify(join(tmp(), "m"))}, { seed: 1 });
const r = await exportGguf(${JSON.stringify(join(tmp(), "m"))}, ` +
			`{ type: "q8_0", out: ${JSON.stringify(join(tmp(), "m.gguf"))}, threads: 2, chunkValues: 256 });
console.log("exported", r.tensors);
`,
	);
	const child = spawn(process.execPath, ["--import", "tsx", script], {
		cwd: join(import.meta.dirname, "..", ".."),
		stdio: ["ignore", "pipe", "pipe"],
	});
	let out = "";
	let err = "";
	child.stdout.on("data", (d: Buffer) => (out += d.toString()));
	child.stderr.on("data", (d: Buffer) => (err += d.toString()));
	const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
	expect(err).toBe("");
	expect(out.trim()).toMatch(/^exported \d+$/);
	expect(code).toBe(0);
}, 60_000);
