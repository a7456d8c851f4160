/**
 * One header parse in a fresh process, for the memory half of the header benchmark (bench/header-bench.ts):
 *
 *   node --expose-gc --import tsx bench/header-child.ts parse|json FILE FILE_SIZE
 *
 * FILE holds the length prefix and the JSON header. `parse` runs parseHeader, `json` decodes the JSON and runs
 * JSON.parse (the baseline). Prints one JSON line: resident memory before the parse, the peak during it (the result
 * still alive) and the parse time. On Linux the peak is reset just before the parse (`/proc/self/clear_refs`), so
 * reading the file and starting up do not count; elsewhere it is the process's lifetime peak.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseHeader } from "../src/io/header.js";

/** VmHWM (peak resident memory) from /proc/self/status, in bytes; undefined where there is none. */
function peakFromProc(): number | undefined {
	try {
		const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "latin1"));
		return m === null ? undefined : Number(m[1]) * 1024;
	} catch {
		return undefined;
	}
}

const [mode, file, size] = process.argv.slice(2);
if ((mode !== "parse" && mode !== "json") || file === undefined || size === undefined) {
	console.error("usage: header-child.ts parse|json FILE FILE_SIZE");
	process.exit(2);
}
const buf = readFileSync(file);
const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
(globalThis as { gc?: () => void }).gc?.();
let reset = false;
try {
	writeFileSync("/proc/self/clear_refs", "5");
	reset = true;
} catch {
	// Not Linux, or not allowed: the lifetime peak is used.
}
const rssBefore = process.memoryUsage().rss;
const started = performance.now();
const result: unknown =
	mode === "parse"
		? parseHeader(bytes, Number(size), file)
		: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8)));
const ms = performance.now() - started;
const peakRss = (reset ? peakFromProc() : undefined) ?? process.resourceUsage().maxRSS * 1024;
console.log(JSON.stringify({ rssBefore, peakRss, ms, peakReset: reset, alive: typeof result }));
