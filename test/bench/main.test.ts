import { describe, expect, it } from "vitest";
import { parseBenchArgs, SECTIONS } from "../../bench/main.js";
import { BENCH_METHODS } from "../../bench/merge-recipes.js";
import { UsageError } from "../../src/errors.js";

describe("parseBenchArgs", () => {
	it("defaults to every section at the quick size", () => {
		expect(parseBenchArgs([])).toEqual({
			sections: [...SECTIONS],
			layers: 2,
			dir: undefined,
			keep: false,
			methods: [...BENCH_METHODS],
			threads: undefined,
			repeat: undefined,
			compare: true,
			streaming7b: false,
			llama7b: false,
		});
	});

	it("reads every flag", () => {
		const args = parseBenchArgs([
			"--only",
			"merge,eval",
			"--layers",
			"32",
			"--dir",
			"/big",
			"--keep",
			"--methods",
			"ties",
			"--threads",
			"4",
			"--repeat",
			"5",
			"--no-compare",
			"--streaming-7b",
			"--llama-7b",
		]);
		expect(args).toEqual({
			sections: ["merge", "eval"],
			layers: 32,
			dir: "/big",
			keep: true,
			methods: ["ties"],
			threads: 4,
			repeat: 5,
			compare: false,
			streaming7b: true,
			llama7b: true,
		});
	});

	it.each([
		["unknown section", ["--only", "disk"]],
		["unknown method", ["--methods", "slerp,karcher"]],
		["zero layers", ["--layers", "0"]],
		["fractional threads", ["--threads", "1.5"]],
		["zero repeats", ["--repeat", "0"]],
		["unknown flag", ["--fast"]],
	])("refuses %s with a UsageError", (_, argv) => {
		expect(() => parseBenchArgs(argv)).toThrow(UsageError);
	});
});
