/** The restricted unpickler on hand-assembled pickles: values, refusals and limits, each with its kind. */
import { describe, expect, test } from "vitest";
import { TorchBinError } from "../../../src/errors.js";
import { MAX_STACK_ITEMS } from "../../../src/io/torch-bin/limits.js";
import { readStateDict } from "../../../src/io/torch-bin/state-dict.js";
import { torchGlobal } from "../../../src/io/torch-bin/torch-globals.js";
import { PickleTruncated, PyDict, PyTuple, type UnpickleHooks, unpickle } from "../../../src/io/torch-bin/unpickler.js";
import { caught } from "../../helpers/errors.js";

const where = { file: "x.bin", entry: "archive/data.pkl" };
const NONE_ALLOWED: UnpickleHooks = {
	global: () => undefined,
	persistentLoad: () => {
		throw new Error("no persistent ids here");
	},
};

/** Bytes from numbers and latin-1 strings. */
function p(...parts: Array<number | string>): Uint8Array {
	return Uint8Array.from(parts.flatMap((x) => (typeof x === "number" ? [x] : [...x].map((c) => c.charCodeAt(0)))));
}
/** SHORT_BINUNICODE of an ASCII string. */
const str = (s: string) => p(0x8c, s.length, s);
const cat = (...xs: Uint8Array[]) => Uint8Array.from(xs.flatMap((x) => [...x]));
const run = (bytes: Uint8Array, hooks = NONE_ALLOWED) => unpickle(bytes, 0, hooks, where).value;
const kind = (bytes: Uint8Array, hooks = NONE_ALLOWED) => caught(() => run(bytes, hooks), TorchBinError).kind;

describe("values", () => {
	test("integers: BININT1/2, BININT (signed), LONG1 (two's complement, bigint past 2^53)", () => {
		expect(run(p(0x80, 2, 0x4b, 200, 0x2e))).toBe(200);
		expect(run(p(0x80, 2, 0x4d, 0x34, 0x12, 0x2e))).toBe(0x1234);
		expect(run(p(0x80, 2, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x2e))).toBe(-2);
		expect(run(p(0x80, 2, 0x8a, 1, 0xff, 0x2e))).toBe(-1);
		expect(run(p(0x80, 2, 0x8a, 2, 0xff, 0x7f, 0x2e))).toBe(32767);
		expect(run(p(0x80, 2, 0x8a, 0, 0x2e))).toBe(0);
		expect(run(p(0x80, 2, 0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x2e))).toBe(2n ** 62n);
	});

	test("BINFLOAT is big-endian; booleans and None", () => {
		expect(run(p(0x80, 2, 0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x2e))).toBe(1.5);
		expect(run(p(0x80, 2, 0x28, 0x88, 0x89, 0x4e, 0x74, 0x2e))).toEqual(new PyTuple([true, false, null]));
	});

	test("protocol 4: FRAME, MEMOIZE and BINGET share one object", () => {
		const v = run(cat(p(0x80, 4, 0x95, 8, 0, 0, 0, 0, 0, 0, 0, 0x5d, 0x94, 0x68, 0, 0x86, 0x2e)));
		expect(v).toBeInstanceOf(PyTuple);
		const [a, b] = (v as PyTuple).items;
		expect(a).toBe(b);
	});

	test("dicts, lists and an allowed callable (OrderedDict via GLOBAL + REDUCE)", () => {
		const d = run(
			cat(
				p(0x80, 2, 0x63, "collections\nOrderedDict\n", 0x29, 0x52, 0x28),
				str("a"),
				p(0x4b, 1),
				str("b"),
				p(0x5d, 0x4b, 2, 0x61, 0x75, 0x2e),
			),
			{ global: torchGlobal, persistentLoad: NONE_ALLOWED.persistentLoad },
		);
		expect(d).toBeInstanceOf(PyDict);
		expect([...(d as PyDict).map]).toEqual([
			["a", 1],
			["b", [2]],
		]);
	});
});

describe("refusals", () => {
	test("a GLOBAL outside the allow-list is refused before anything is called", () => {
		const err = caught(
			() => run(p(0x80, 2, 0x63, "posix\nsystem\n", 0x2e), { global: torchGlobal, persistentLoad: NONE_ALLOWED.persistentLoad }),
			TorchBinError,
		);
		expect(err.kind).toBe("UnsafePickle");
		expect(err.message).toBe(
			"x.bin: archive/data.pkl: refused global posix.system: a PyTorch state dict never needs it, " +
				"and loading it could run code (opcode 0x63 at byte 2)",
		);
	});

	test.each([
		["STACK_GLOBAL of a refused name", cat(p(0x80, 4), str("builtins"), str("exec"), p(0x93, 0x2e))],
		["REDUCE of a non-callable", cat(p(0x80, 2), str("x"), p(0x29, 0x52, 0x2e))],
		["NEWOBJ", p(0x80, 2, 0x4e, 0x29, 0x81, 0x2e)],
		["INST", p(0x80, 2, 0x28, 0x69, "os\nsystem\n", 0x2e)],
		["EXT1", p(0x80, 2, 0x82, 1, 0x2e)],
		["BUILD on a list", p(0x80, 2, 0x5d, 0x7d, 0x62, 0x2e)],
		["SETITEM on a list", p(0x80, 2, 0x5d, 0x4b, 1, 0x4b, 2, 0x73, 0x2e)],
	])("%s → UnsafePickle", (_, bytes) => {
		expect(kind(bytes)).toBe("UnsafePickle");
	});

	test.each([
		["protocol 6", p(0x80, 6, 0x4e, 0x2e)],
		["a protocol 0 text opcode", p(0x80, 2, 0x49, "1\n", 0x2e)],
		["an unknown opcode", p(0x80, 2, 0xff, 0x2e)],
		["STOP with two values", p(0x80, 2, 0x4e, 0x4e, 0x2e)],
		["a memo entry never stored", p(0x80, 2, 0x68, 3, 0x2e)],
		["a tuple dict key", p(0x80, 2, 0x7d, 0x29, 0x4e, 0x73, 0x2e)],
		["popping past a MARK", p(0x80, 2, 0x28, 0x85, 0x2e)],
		["invalid UTF-8", p(0x80, 2, 0x8c, 1, 0xff, 0x2e)],
	])("%s → InvalidPickle", (_, bytes) => {
		expect(kind(bytes)).toBe("InvalidPickle");
	});

	test("a pickle cut before STOP is PickleTruncated (so a stream reader can read more)", () => {
		expect(caught(() => run(p(0x80, 2, 0x7d)), PickleTruncated).kind).toBe("InvalidPickle");
		expect(caught(() => run(p(0x80, 2, 0x58, 100, 0, 0, 0, "ab")), PickleTruncated).kind).toBe("InvalidPickle");
	});

	test("limits: integer length and stack depth", () => {
		expect(kind(cat(p(0x80, 2, 0x8a, 17), new Uint8Array(17), p(0x2e)))).toBe("LimitExceeded");
		expect(kind(cat(p(0x80, 2), new Uint8Array(MAX_STACK_ITEMS + 1).fill(0x28), p(0x2e)))).toBe("LimitExceeded");
	});
});

describe("readStateDict", () => {
	const hooksBytes = (body: Uint8Array) => cat(p(0x80, 2), body, p(0x2e));
	test("a dict holding a dict is a training checkpoint, not a weights file", () => {
		const err = caught(() => readStateDict(hooksBytes(cat(p(0x7d), str("state_dict"), p(0x7d, 0x73))), 0, "zip", where), TorchBinError);
		expect(err.kind).toBe("InvalidPickle");
		expect(err.message).toContain(`"state_dict" holds a nested dict: this is a training checkpoint`);
	});
	test("a non-dict top level and a non-tensor value", () => {
		expect(caught(() => readStateDict(hooksBytes(p(0x5d)), 0, "zip", where), TorchBinError).message).toContain("not a state dict");
		expect(
			caught(() => readStateDict(hooksBytes(cat(p(0x7d), str("n"), p(0x4b, 3, 0x73))), 0, "zip", where), TorchBinError).message,
		).toContain(`"n" is not a tensor`);
	});
	test("a persistent id that is not a storage reference", () => {
		const err = caught(() => readStateDict(hooksBytes(cat(p(0x28), str("module"), p(0x4e, 0x74, 0x51))), 0, "zip", where), TorchBinError);
		expect(err.kind).toBe("InvalidPickle");
		expect(err.message).toContain(`persistent id that is not a 5-item ("storage", ...) tuple`);
	});
});
