import type { EvalReport } from "../../src/eval/types.js";

/** A complete evaluation report with neutral values (one tfjs f32 run, nothing scored), overridden by `over`. */
export function fakeEvalReport(over: Partial<EvalReport> = {}): EvalReport {
	const models = over.models ?? ["/m"];
	return {
		version: "0.0.0-test",
		partial: false,
		progress: { scored: 0, total: 0, skipped: 0 },
		mode: "biomistral",
		shots: 3,
		seeds: [0],
		models,
		model_names: models.map((m) => m.split("/").at(-1) ?? m),
		ensemble: false,
		bos: true,
		backend: "tfjs",
		device: "cpu",
		quant: "f32",
		max_tokens: 2048,
		letter_token_ids: {},
		data_files: [],
		runs: [],
		timings: { started: "2026-01-01T00:00:00.000Z", seconds: 0, tokens_per_second: 0 },
		tasks: {},
		warnings: [],
		items: [],
		...over,
	};
}
