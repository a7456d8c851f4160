/**
 * One header parse in a fresh process, for the memory half of the header benchmark (bench/header-bench.ts):
 *
 *   node --expose-gc --import tsx bench/header-child.ts parse|json FILE FILE_SIZE
 *
 * FILE holds the length prefix and the JSON header. `parse` runs parseHeader, `json` decodes the JSON and runs
 * JSON.parse (the baseline). Prints one JSON line: resident memory before the parse, the peak after it (the
 * result still alive) and the parse time.
 */
import { readFileSync } from "node:fs";
import { parseHeader } from "../src/io/header.js";

const [mode, file, size] = process.argv.slice(2);
if ((mode !== "parse" && mode !== "json") || file === undefined || size === undefined) {
	console.error("usage: header-child.ts parse|json FILE FILE_SIZE");
	process.exit(2);
}
const bytes = new Uint8Array(readFileSync(file));
(globalThis as { gc?: () => void }).gc?.();
const rssBefore = process.memoryUsage().rss;
const started = performance.now();
const result: unknown = mode === "parse" ? parseHeader(bytes, Number(size), file) : JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8)));
const ms = performance.now() - started;
const peakRss = process.resourceUsage().maxRSS * 1024;
console.log(JSON.stringify({ rssBefore, peakRss, ms, alive: typeof result }));
