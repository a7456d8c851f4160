import { describe, expect, test } from "vitest";
import { formatDuration, rateAndEta } from "../../src/cli/eval-progress.js";

describe("eval progress: tokens/s and ETA", () => {
	test.each([
		[0, "0s"],
		[44.6, "45s"],
		[200, "3m20s"],
		[3725, "1h02m"],
		[Number.POSITIVE_INFINITY, "?"],
	])("formatDuration(%d) = %s", (s, want) => {
		expect(formatDuration(s)).toBe(want);
	});

	test("the ETA is the prompt tokens still to run at this process's rate", () => {
		// 1,000 tokens in 4 s = 250 tokens/s; 50,000 tokens left → 200 s
		expect(rateAndEta({ event: "item", done: 3, total: 100, tokens: 1000, tokensLeft: 50_000, seconds: 4 })).toEqual({
			rate: "250",
			eta: "3m20s",
		});
		expect(rateAndEta({ event: "item", done: 3, total: 100, tokens: 60, tokensLeft: 600, seconds: 2 })).toEqual({
			rate: "30.0",
			eta: "20s",
		});
		// resumed prompts only, nothing run yet: no rate to extrapolate from
		expect(rateAndEta({ event: "item", done: 40, total: 100, tokens: 0, tokensLeft: 600, seconds: 0 })).toEqual({ rate: "–", eta: "?" });
	});
});
