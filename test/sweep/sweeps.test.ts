import { readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { parse } from "yaml";
import { buildTrial } from "../../src/sweep/build-trial.js";
import { parseSweep } from "../../src/sweep/spec.js";
import { gridPoints, sweepBatches } from "../../src/sweep/strategy.js";
import { REPO_ROOT } from "../helpers/cli.js";

const SWEEPS = path.join(REPO_ROOT, "sweeps");

describe("the bundled sweep files", () => {
	test.each(readdirSync(SWEEPS).filter((f) => f.endsWith(".yml")))(
		"%s parses and every first-batch trial is a valid recipe",
		async (name) => {
			const file = path.join(SWEEPS, name);
			const spec = await parseSweep(await readFile(file, "utf8"), file);
			const batch =
				spec.strategy.kind === "grid"
					? gridPoints(spec.strategy.axes)
					: (sweepBatches(spec.strategy, file).next([]).value as Record<string, unknown>[]);
			expect(batch.length).toBeGreaterThan(1);
			const keys = new Set(batch.map((p) => buildTrial(spec, p).key));
			expect(keys.size).toBe(batch.length);
		},
	);

	test("the SLERP sweep changes only the filter-less t of the BioMistral recipe", async () => {
		const file = path.join(SWEEPS, "biomistral-slerp-t.yml");
		const spec = await parseSweep(await readFile(file, "utf8"), file);
		const t = parse(buildTrial(spec, { "parameters.t[2].value": 0.7 }).recipe.text).parameters.t;
		expect(t).toEqual([
			{ filter: "self_attn", value: [0, 0.5, 0.3, 0.7, 1] },
			{ filter: "mlp", value: [1, 0.5, 0.7, 0.3, 0] },
			{ value: 0.7 },
		]);
	});
});
