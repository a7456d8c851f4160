/**
 * Every TypeScript line stays within biome.jsonc's lineWidth (140). The formatter wraps code but not string literals
 * or comments, so this guard catches the long lines it leaves; a failure names each offender as file:line (length).
 */
import { type Dirent, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";

/** biome.jsonc's formatter lineWidth; a tab counts as one column, as in the formatter's own count of characters. */
const LINE_WIDTH = 140;

/** The folders holding the project's TypeScript (biome.jsonc's includes), plus the top-level .ts files. */
const FOLDERS = ["src", "test", "bench", "scripts", "fuzz", "examples", "bin"];

const TS_FILE = /\.[cm]?ts$/;

function tsFiles(dir: string): string[] {
	let entries: Dirent[];
	try {
		entries = readdirSync(dir, { withFileTypes: true });
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
		throw err;
	}
	return entries.flatMap((e) => {
		const full = path.join(dir, e.name);
		if (e.isDirectory()) return e.name === "node_modules" ? [] : tsFiles(full);
		return e.isFile() && TS_FILE.test(e.name) ? [full] : [];
	});
}

/** `file:line (n columns)` for each line of `text` longer than LINE_WIDTH, counted in code points. */
function longLines(file: string, text: string): string[] {
	return text.split(/\r?\n/).flatMap((line, i) => {
		const columns = [...line].length;
		return columns > LINE_WIDTH ? [`${file}:${i + 1} (${columns} columns)`] : [];
	});
}

describe("line length", () => {
	test("longLines counts a tab and a multi-byte character as one column each, and names file:line", () => {
		const ok = `\t${"≤".repeat(139)}`; // 140 columns, 3 × 139 + 1 bytes
		const long = `\t${"x".repeat(140)}`; // 141 columns
		expect(longLines("a.ts", `${ok}\n${long}\r\nshort\n${long}`)).toEqual(["a.ts:2 (141 columns)", "a.ts:4 (141 columns)"]);
		expect(longLines("b.ts", ok)).toEqual([]);
	});

	test(`no TypeScript line in ${FOLDERS.join(", ")} or the top level is over ${LINE_WIDTH} columns`, () => {
		const top = readdirSync(REPO_ROOT, { withFileTypes: true })
			.filter((e) => e.isFile() && TS_FILE.test(e.name))
			.map((e) => path.join(REPO_ROOT, e.name));
		const files = [...top, ...FOLDERS.flatMap((f) => tsFiles(path.join(REPO_ROOT, f)))];
		expect(files.length).toBeGreaterThan(500);
		const offenders = files.flatMap((f) => longLines(path.relative(REPO_ROOT, f), readFileSync(f, "utf8")));
		expect(offenders, `lines over ${LINE_WIDTH} columns (wrap them: split strings, re-flow comments):\n${offenders.join("\n")}`).toEqual(
			[],
		);
	});
});
