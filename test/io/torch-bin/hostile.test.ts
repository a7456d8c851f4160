/**
 * Hostile `.bin` files (written by scripts/torch-bin/generate.py): each is refused with its TorchBinError kind and a
 * message naming the file and the problem, and nothing in it runs.
 */
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { beforeAll, expect, test } from "vitest";
import { TorchBinError } from "../../../src/errors.js";
import { openTorchBin } from "../../../src/io/torch-bin/torch-bin-file.js";
import { REPO_ROOT } from "../../helpers/cli.js";
import { rejected } from "../../helpers/errors.js";

const HOSTILE = path.join(REPO_ROOT, "test", "fixtures", "torch-bin", "hostile");
/** What the os.system / eval pickles would create if anything in them ran. */
const MARKER = "/tmp/lm-merge-pwned";

beforeAll(() => rmSync(MARKER, { force: true }));

test.each([
	["os-system.bin", "UnsafePickle", /refused global posix\.system/],
	["builtins-eval.bin", "UnsafePickle", /refused global __builtin__\.eval/],
	["other-global.bin", "UnsafePickle", /refused global __builtin__\.getattr/],
	["storage-called.bin", "UnsafePickle", /REDUCE of something that is not an allowed callable/],
	["huge-size.bin", "LimitExceeded", /tensor "w": shape \[1099511627776, 1099511627776\] declares more than 2\^53 bytes/],
	["past-storage.bin", "InvalidTensor", /: w: shape \[4, 3\].*reach element 12 of a storage holding 6/],
	["missing-storage.bin", "MissingStorage", /uses storage 0, but the zip has no entry archive\/data\/0/],
	["compressed.bin", "UnsafeZipEntry", /"archive\/data\/0" is compressed/],
	["duplicate-entry.bin", "UnsafeZipEntry", /"archive\/data\/0" appears twice/],
	["dotdot.bin", "UnsafeZipEntry", /invalid relative path/],
	["big-endian.bin", "UnsupportedFormat", /byteorder is "big"/],
	["legacy-big-endian.bin", "UnsupportedFormat", /big-endian/],
	["tar.bin", "UnsupportedFormat", /tar checkpoint/],
])("%s is refused: %s", async (name, kind, message) => {
	const file = path.join(HOSTILE, name);
	const err = await rejected(openTorchBin(file), TorchBinError);
	expect(err.kind).toBe(kind);
	expect(err.file).toBe(file);
	expect(err.message).toMatch(message);
	expect(err.message.startsWith(file)).toBe(true);
	expect(err.message).not.toContain("\n");
	expect(existsSync(MARKER)).toBe(false);
});

test("a file that is neither zip nor pickle, and a missing file", async () => {
	expect((await rejected(openTorchBin(path.join(REPO_ROOT, "package.json")), TorchBinError)).kind).toBe("NotACheckpoint");
	expect((await rejected(openTorchBin(path.join(HOSTILE, "nope.bin")), TorchBinError)).kind).toBe("IoError");
});
