/**
 * Debug assertions: checks of facts that an earlier stage already guarantees (the planner checked every parameter,
 * the executor placed every block), made again only when LM_MERGE_DEBUG=1 to catch a bug or a caller that skipped
 * the check. The variable is read once, when this module loads; the CLI's `--debug` sets it (bin/merge.js) before
 * the library loads.
 *
 * Off, an assertion costs one test of a constant per call, and the arguments are not built when the call is guarded
 * (`if (DEBUG_ASSERTS) debugAssert(...)`), so call sites that compute anything for the check guard it. Assertions
 * belong at the entry of a per-tensor or per-block function, never inside a per-element loop.
 */
import { InternalError } from "./errors.js";

/** Whether debug assertions run: LM_MERGE_DEBUG=1 when this module loaded. */
export const DEBUG_ASSERTS: boolean = process.env.LM_MERGE_DEBUG === "1";

/**
 * With LM_MERGE_DEBUG=1, throws InternalError "Assertion" when `condition` is false; otherwise does nothing.
 * `message` may be a function, so that building it costs nothing unless the assertion fails.
 */
export function debugAssert(condition: boolean, message: string | (() => string)): void {
	if (DEBUG_ASSERTS && !condition) {
		throw new InternalError("Assertion", `debug assertion failed: ${typeof message === "string" ? message : message()}`);
	}
}

/** With LM_MERGE_DEBUG=1, throws InternalError "Assertion" when `problem()` returns a description of one. */
export function debugAssertNoProblem(problem: () => string | undefined): void {
	if (!DEBUG_ASSERTS) return;
	const why = problem();
	if (why !== undefined) throw new InternalError("Assertion", `debug assertion failed: ${why}`);
}
