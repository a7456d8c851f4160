/**
 * Debug assertions: on only with LM_MERGE_DEBUG=1 (read when the module loads), then a failed one throws
 * InternalError "Assertion"; off, nothing is checked and a lazy message is never built.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import type { InternalError } from "../src/errors.js";

/** A fresh copy of debug-assert.ts, loaded with LM_MERGE_DEBUG set to `value` (undefined: unset). */
async function load(value: string | undefined): Promise<typeof import("../src/debug-assert.js")> {
	if (value === undefined) vi.stubEnv("LM_MERGE_DEBUG", undefined);
	else vi.stubEnv("LM_MERGE_DEBUG", value);
	vi.resetModules();
	return import("../src/debug-assert.js");
}

afterEach(() => {
	vi.unstubAllEnvs();
	vi.resetModules();
});

describe("debugAssert", () => {
	test.each([[undefined], ["0"], ["true"], [""]])(
		"LM_MERGE_DEBUG=%s: off, a false condition passes and the message is never built",
		async (value) => {
			const { DEBUG_ASSERTS, debugAssert, debugAssertNoProblem } = await load(value);
			expect(DEBUG_ASSERTS).toBe(false);
			const message = vi.fn(() => "never");
			const problem = vi.fn(() => "never");
			expect(() => debugAssert(false, message)).not.toThrow();
			expect(() => debugAssertNoProblem(problem)).not.toThrow();
			expect(message).not.toHaveBeenCalled();
			expect(problem).not.toHaveBeenCalled();
		},
	);

	test("LM_MERGE_DEBUG=1: a false condition throws InternalError Assertion with the message; a true one builds none", async () => {
		const { DEBUG_ASSERTS, debugAssert, debugAssertNoProblem } = await load("1");
		expect(DEBUG_ASSERTS).toBe(true);
		const message = vi.fn(() => "the blocks are not in the arena");
		expect(() => debugAssert(true, message)).not.toThrow();
		expect(message).not.toHaveBeenCalled();
		let err: unknown;
		try {
			debugAssert(false, message);
		} catch (e) {
			err = e;
		}
		// The class comes from the reloaded module graph: compare by name and kind.
		expect((err as InternalError).name).toBe("InternalError");
		expect((err as InternalError).kind).toBe("Assertion");
		expect((err as Error).message).toBe("debug assertion failed: the blocks are not in the arena");
		expect(() => debugAssertNoProblem(() => undefined)).not.toThrow();
		expect(() => debugAssertNoProblem(() => "density 0 keeps nothing")).toThrow(/^debug assertion failed: density 0 keeps nothing$/);
	});

	test("the setting is read once, when the module loads", async () => {
		const { DEBUG_ASSERTS, debugAssert } = await load(undefined);
		vi.stubEnv("LM_MERGE_DEBUG", "1");
		expect(DEBUG_ASSERTS).toBe(false);
		expect(() => debugAssert(false, "x")).not.toThrow();
	});
});
