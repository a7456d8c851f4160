/**
 * No import loop anywhere in src/ (issue 16): a reader can follow any file's imports down to the leaves without
 * coming back. The detector is checked on a small tree first, so the assertion on src/ cannot pass vacuously.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";
import { importCycles } from "./helpers/import-cycles.js";

describe("importCycles", () => {
	const root = mkdtempSync(path.join(tmpdir(), "lm-merge-cycles-"));
	afterAll(() => rmSync(root, { recursive: true, force: true }));
	const write = (rel: string, text: string) => {
		mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
		writeFileSync(path.join(root, rel), text);
	};
	write("a.ts", 'import { b } from "./b.js";\nexport const a = b;\n');
	write("b.ts", 'import type { C } from "./sub/c.js";\nexport const b = 1;\nexport type B = C;\n');
	write("sub/c.ts", 'export { a } from "../a.js";\nexport type C = number;\n');
	write("d.ts", 'import { a } from "./a.js";\nimport { x } from "../outside.js";\nexport const d = a + x;\n');
	write("self.ts", 'export * from "./self.js";\n');
	write("leaf.ts", 'import { readFileSync } from "node:fs";\nexport const leaf = readFileSync;\n');

	test("finds a loop through type imports, export-froms and subfolders, and a file importing itself", () => {
		expect(importCycles(root).sort()).toEqual([["a.ts", "b.ts", "sub/c.ts"], ["self.ts"]]);
	});

	test("a folder without loops has none; imports leaving the folder are ignored", () => {
		expect(importCycles(path.join(root, "sub"))).toEqual([]);
	});
});

test("src/ has no import loop (sweep/ reaches the library below index.ts, which re-exports it)", () => {
	expect(importCycles(path.join(REPO_ROOT, "src"))).toEqual([]);
});
