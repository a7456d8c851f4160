import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { ReportError } from "../../src/errors.js";
import type { EvalReport } from "../../src/eval/types.js";
import { defaultStorePath, readReportData } from "../../src/sweep/report-source.js";
import { ResultsStore } from "../../src/sweep/store.js";
import { fakeEvalReport } from "../helpers/eval-report.js";
import { useTempDir } from "../helpers/fs.js";

const dir = useTempDir("lm-merge-report-source-");
const stat = (v: number) => ({ mean: v, std: 0, per_seed: [v] });
const evalReport = (model: string, acc: number): EvalReport =>
	fakeEvalReport({
		models: [model],
		tasks: {
			medqa: { n: 1, acc: stat(acc), acc_letters: stat(acc), non_letter_top1: 0, ece: 1, ece_per_seed: [1], shot_source: "template" },
		},
	});

describe("readReportData", () => {
	test("the default store sits beside the sweep file", () => {
		expect(defaultStorePath("/x/sweeps/slerp-t.yml")).toBe("/x/sweeps/slerp-t.sqlite");
		expect(defaultStorePath("runs/a.yaml")).toBe(path.join("runs", "a.sqlite"));
	});

	test("JSON reports (an object or an array) and a store, in the order given; swept paths from the trials", async () => {
		const one = path.join(dir(), "one.json");
		const many = path.join(dir(), "many.json");
		await writeFile(one, JSON.stringify(evalReport("/m/slerp", 50)));
		await writeFile(many, JSON.stringify([evalReport("/m/ties", 40), evalReport("/m/dare", 45)]));
		const storeFile = path.join(dir(), "s.sqlite");
		const store = ResultsStore.open(storeFile);
		for (const [key, t] of [
			["k1", 0.3],
			["k2", 0.7],
		] as const) {
			store.enqueue({
				key,
				sweep: "sw",
				params: { "models[1].parameters.density": t },
				recipe: { text: "x" },
				eval: { data: "/d" },
				merge: {},
				objective: "mean_accuracy",
			});
		}
		store.close();
		const data = await readReportData([one, many, storeFile]);
		expect(data.rows.map((r) => r.label)).toEqual(["slerp", "ties", "dare", "density=0.3", "density=0.7"]);
		expect(data.swept).toEqual(["models[1].parameters.density"]);
		expect(data.title).toBe("Sweep sw");
		expect((await readReportData([storeFile], { sweep: "sw", title: "T" })).title).toBe("T");
	});

	test("unreadable inputs and empty selections are ReportErrors naming the file", async () => {
		const bad = path.join(dir(), "bad.json");
		await writeFile(bad, JSON.stringify({ hello: 1 }));
		await expect(readReportData([bad])).rejects.toThrow(ReportError);
		await expect(readReportData([bad])).rejects.toMatchObject({ kind: "Input", message: expect.stringContaining("bad.json") });
		await expect(readReportData([path.join(dir(), "missing.json")])).rejects.toMatchObject({ kind: "Input" });
		await expect(readReportData([])).rejects.toMatchObject({ kind: "Empty" });
		await expect(readReportData([path.join(dir(), "s.sqlite")], { sweep: "nope" })).rejects.toMatchObject({ kind: "Empty" });
	});
});
