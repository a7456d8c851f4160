/**
 * Terminal safety (issue 12, item 14): tensor names, metadata and file names can hold ANSI escapes, `\r` or
 * newlines; nothing the CLI prints may carry them raw.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { main } from "../../src/cli/main.js";
import type { Io } from "../../src/cli/output.js";
import { escapeControl, printable, safeIo } from "../../src/cli/printable.js";
import { useTempDir } from "../helpers/fs.js";
import { craftFile, f32Bytes } from "../io/safetensors-bytes.js";

/** Any C0 control but tab and newline, DEL, C1, or a bidi override: what must never be printed raw. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for raw control characters.
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function capture(): Io & { stdout: string[]; stderr: string[] } {
	const stdout: string[] = [];
	const stderr: string[] = [];
	return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), isTty: false };
}

describe("escapeControl and printable", () => {
	test("escape controls the way JSON does, keeping the CLI's own newlines and tabs", () => {
		expect(escapeControl("a\u001b[31mb\rc\u0007d\u009be\u202ef\n\tg")).toBe("a\\u001b[31mb\\rc\\u0007d\\u009be\\u202ef\n\tg");
		expect(printable("name\nerror: fake\tx")).toBe("name\\nerror: fake\\tx");
		expect(printable("model.layers.0.mlp.weight ü → 中")).toBe("model.layers.0.mlp.weight ü → 中");
	});

	test("escaped text stays valid inside a JSON string and decodes to the original", () => {
		const value = "x\u001b]0;t\u0007\r\u0085\u2066y";
		const printed = escapeControl(JSON.stringify({ value }));
		expect(RAW_CONTROL.test(printed)).toBe(false);
		expect((JSON.parse(printed) as { value: string }).value).toBe(value);
	});

	test("safeIo escapes everything written through it", () => {
		const io = capture();
		const safe = safeIo(io);
		safe.out("\u001b[2Jout");
		safe.err("err\r");
		expect(io.stdout).toEqual(["\\u001b[2Jout"]);
		expect(io.stderr).toEqual(["err\\r"]);
	});
});

describe("the CLI prints no control characters from files", () => {
	const root = useTempDir("lm-merge-printable-");
	const evilName = "model.\u001b[31mRED\u001b[0m\rFAKE\nerror: spoofed.weight";
	let file: string;
	beforeAll(async () => {
		file = path.join(root(), "evil.safetensors");
		const header = {
			[evilName]: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
			__metadata__: { format: "pt", note: "\u001b]0;pwned\u0007\r\nerror: fake" },
		};
		await writeFile(file, craftFile(header, f32Bytes([1, 2])));
	});

	test("inspect escapes tensor names and metadata, one line per tensor", async () => {
		const io = capture();
		expect(await main(["inspect", file], io)).toBe(0);
		const text = io.stdout.join("\n");
		expect(RAW_CONTROL.test(text)).toBe(false);
		expect(io.stdout.some((l) => l.startsWith("error:"))).toBe(false);
		expect(text).toContain("model.\\u001b[31mRED\\u001b[0m\\rFAKE\\nerror: spoofed.weight  F32");
		expect(text).toContain("note=\\u001b]0;pwned\\u0007\\r\\nerror: fake");
	});

	test("inspect --json keeps names exact (JSON escapes them) and prints no raw controls", async () => {
		const io = capture();
		expect(await main(["inspect", file, "--json"], io)).toBe(0);
		const text = io.stdout.join("\n");
		expect(RAW_CONTROL.test(text)).toBe(false);
		expect((JSON.parse(text) as { tensors: Array<{ name: string }> }).tensors[0]!.name).toBe(evilName);
	});

	test("an error naming a file with escapes in its name is escaped", async () => {
		const io = capture();
		expect(await main(["inspect", path.join(root(), "bad\u001b[2J\r.safetensors")], io)).toBe(1);
		expect(io.stderr).toHaveLength(1);
		expect(io.stderr[0]).toMatch(/^error: .*bad\\u001b\[2J\\r\.safetensors: no such file or folder$/);
	});

	test("a usage error echoing an unknown argument is escaped", async () => {
		const io = capture();
		expect(await main(["inspect", file, "--\u001b[31mevil"], io)).toBe(2);
		expect(RAW_CONTROL.test(io.stderr.join("\n"))).toBe(false);
		expect(io.stderr.join("\n")).toContain("\\u001b[31mevil");
	});
});
