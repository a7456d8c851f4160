import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseCsv } from "../../src/eval/tasks/csv.js";
import { type LoadTasksOptions, loadTasks } from "../../src/eval/tasks/load-tasks.js";
import { topLevelLines } from "../../src/eval/tasks/records.js";
import { getTask, TASK_NAMES } from "../../src/eval/tasks/registry.js";
import { useTempDir } from "../helpers/fs.js";

const FIX = join(import.meta.dirname, "..", "fixtures", "eval");
const fx = (name: string): string => join(FIX, name);

async function load(opts: Partial<LoadTasksOptions> & { data: string }) {
	return loadTasks({ shots: 0, ...opts });
}

async function only(opts: Partial<LoadTasksOptions> & { data: string }) {
	const { tasks, warnings } = await load(opts);
	expect(tasks).toHaveLength(1);
	return { ...(tasks[0] as NonNullable<(typeof tasks)[0]>), warnings };
}

const tmp = useTempDir("lm-merge-tasks-");

describe("registry", () => {
	test("ten tasks in the paper's column order; unknown names are kind Config", () => {
		expect(TASK_NAMES).toHaveLength(10);
		expect(getTask("medmcqa").evalSplit).toBe("dev");
		expect(getTask("mmlu_anatomy").shotSplit).toBe("dev");
		expect(() => getTask("medqa4")).toThrow(expect.objectContaining({ kind: "Config" }));
	});
});

describe("MedQA", () => {
	test("JSONL with 4 options; ids are record indices, lines are file lines", async () => {
		const t = await only({ data: fx("medqa.jsonl") });
		expect(t.task).toBe("medqa");
		expect(t.items.map((i) => [i.id, i.gold, i.source.line])).toEqual([
			["0", "B", 1],
			["1", "C", 3],
			["2", "A", 4], // no answer_idx: the option whose text equals "answer"
		]);
		expect(t.items[0]?.options).toEqual([
			{ letter: "A", text: "Vitamin A" },
			{ letter: "B", text: "Vitamin C" },
			{ letter: "C", text: "Vitamin D" },
			{ letter: "D", text: "Vitamin K" },
		]);
		expect(t.shotSource).toBe("none");
	});

	test("5 options: guessed as medqa_5options; forced as medqa it is a Data error", async () => {
		const t = await only({ data: fx("medqa5.jsonl") });
		expect(t.task).toBe("medqa_5options");
		expect(t.items[1]?.options.map((o) => o.letter).join("")).toBe("ABCDE");
		await expect(load({ data: fx("medqa5.jsonl"), tasks: ["medqa"] })).rejects.toMatchObject({ kind: "Data" });
	});

	test("a malformed line stops the run with file:line", async () => {
		const err = await load({ data: fx("medqa-bad.jsonl") }).catch((e: unknown) => e);
		expect(err).toMatchObject({ kind: "Data" });
		expect(String((err as Error).message)).toContain("medqa-bad.jsonl:3:");
	});

	test("skipBad keeps the good records and reports the bad ones as warnings", async () => {
		const t = await only({ data: fx("medqa-bad.jsonl"), skipBad: true });
		expect(t.items.map((i) => i.id)).toEqual(["0", "3"]);
		expect(t.warnings).toHaveLength(2);
		expect(t.warnings.some((w) => w.includes("medqa-bad.jsonl:2:"))).toBe(true);
		expect(t.warnings.some((w) => w.includes("medqa-bad.jsonl:3:"))).toBe(true);
	});
});

describe("MedMCQA cop base", () => {
	test("a 4 means 1-based", async () => {
		const t = await only({ data: fx("medmcqa-1based.jsonl") });
		expect(t.task).toBe("medmcqa");
		expect(t.items.map((i) => [i.id, i.gold])).toEqual([
			["m-001", "C"],
			["m-002", "D"],
		]);
	});

	test("a 0 means 0-based", async () => {
		const t = await only({ data: fx("medmcqa-0based.jsonl") });
		expect(t.items.map((i) => i.gold)).toEqual(["C", "A"]);
	});

	test("undecidable without the flag (kind Data), explicit with it", async () => {
		await expect(load({ data: fx("medmcqa-ambiguous.jsonl") })).rejects.toMatchObject({ kind: "Data" });
		const t = await only({ data: fx("medmcqa-ambiguous.jsonl"), copBase: 1 });
		expect(t.items.map((i) => i.gold)).toEqual(["C", "B"]);
	});
});

describe("PubMedQA ori_pqal.json", () => {
	test("PMID ids, yes/no/maybe as A/B/C, contexts joined by a space", async () => {
		const t = await only({ data: fx("ori_pqal.json") });
		expect(t.task).toBe("pubmedqa");
		expect(t.items.map((i) => [i.id, i.gold, i.source.line])).toEqual([
			["10001", "A", 2],
			["10002", "B", 9],
			["10003", "C", 16],
		]);
		expect(t.items[0]?.context).toBe("We followed 120 adults for 12 weeks. Resting systolic pressure fell by 6 mmHg in the walking group.");
		expect(t.items[0]?.contextParts).toHaveLength(2);
		expect(t.items[0]?.options.map((o) => o.text)).toEqual(["yes", "no", "maybe"]);
	});

	test("in a folder, test_ground_truth.json picks the test PMIDs and the rest is the shot pool", async () => {
		const dir = join(tmp(), "pqa");
		await mkdir(join(dir, "pubmedqa"), { recursive: true });
		await copyFile(fx("ori_pqal.json"), join(dir, "pubmedqa", "ori_pqal.json"));
		await copyFile(fx("test_ground_truth.json"), join(dir, "pubmedqa", "test_ground_truth.json"));
		const t = await only({ data: dir, shots: 1 });
		expect(t.items.map((i) => i.id)).toEqual(["10002", "10003"]);
		expect(t.pool?.map((i) => i.id)).toEqual(["10001"]);
		expect(t.shotSource).toBe("template");
		expect(t.poolIsEvalFile).toBe(false);
	});
});

describe("MMLU", () => {
	test("CSV: RFC 4180 quoting, CRLF, subject from the file name", async () => {
		const t = await only({ data: fx("anatomy_test.csv") });
		expect(t.task).toBe("mmlu_anatomy");
		expect(t.items.map((i) => [i.id, i.gold, i.source.line])).toEqual([
			["0", "A", 1],
			["1", "A", 2],
			["2", "B", 5],
		]);
		expect(t.items[1]?.question).toBe('Which of these, if any, is a "long" bone?');
		expect(t.items[1]?.options[2]?.text).toBe("Carpal,\nscaphoid");
	});

	test("JSONL: answer as index or letter", async () => {
		const t = await only({ data: fx("mmlu_anatomy.jsonl") });
		expect(t.task).toBe("mmlu_anatomy");
		expect(t.items.map((i) => i.gold)).toEqual(["A", "B"]);
	});

	test("an unterminated quote is a Data error at its line", () => {
		const ctx = { file: "x.csv", skipBad: false, warnings: [] };
		expect(() => parseCsv('a,b\n"open,c\n', ctx)).toThrow(expect.objectContaining({ kind: "Data" }));
		expect(parseCsv("a,,b\n\n,\n", ctx).map((r) => r.fields)).toEqual([
			["a", "", "b"],
			["", ""],
		]);
	});
});

describe("BioInstructQA", () => {
	test("several tasks in one file, the paper's shots per seed, context only for PubMedQA", async () => {
		const { tasks } = await load({ data: fx("bioinstructqa.json"), shots: 3 });
		expect(tasks.map((t) => t.task)).toEqual(["medqa", "pubmedqa"]);
		const medqa = tasks[0];
		expect(medqa?.shotSource).toBe("paper");
		expect(medqa?.pool).toBeUndefined();
		expect(medqa?.items.map((i) => [i.id, i.gold, i.source.line])).toEqual([
			["medqa-test-0", "B", 2],
			["medqa-test-1", "D", 152],
		]);
		const first = medqa?.items[0];
		expect(first?.context).toBeUndefined();
		expect(first?.fewShot).toHaveLength(3);
		expect(first?.fewShot?.[1]?.map((s) => s.id)).toEqual(["MedQA-train-20", "MedQA-train-21", "MedQA-train-22"]);
		const pq = tasks[1]?.items[0];
		expect(pq?.context).toBe("An abstract.");
		expect(pq?.fewShot?.[0]?.[0]?.context).toBe("Context 10.");
	});

	test("translated fields on request; a missing task is kind Data", async () => {
		const t = await only({ data: fx("bioinstructqa.json"), tasks: ["medqa"], translated: true });
		expect(t.items[0]?.question).toBe("Question de test 0 ?");
		expect(t.items[0]?.options[0]?.text).toBe("alpha-fr");
		await expect(load({ data: fx("bioinstructqa.json"), tasks: ["medmcqa"] })).rejects.toMatchObject({ kind: "Data" });
	});
});

describe("data folders and shot pools", () => {
	test("<task>/test + <task>/train: the train split is the pool", async () => {
		const dir = join(tmp(), "folder");
		await mkdir(join(dir, "medqa"), { recursive: true });
		await copyFile(fx("medqa.jsonl"), join(dir, "medqa", "test.jsonl"));
		await copyFile(
			join(import.meta.dirname, "..", "..", "examples", "data", "medqa-sample-train.jsonl"),
			join(dir, "medqa", "train.jsonl"),
		);
		await copyFile(fx("medqa5.jsonl"), join(dir, "medqa_5options_test.jsonl"));
		const { tasks, warnings } = await load({ data: dir, shots: 2 });
		expect(tasks.map((t) => t.task)).toEqual(["medqa", "medqa_5options"]);
		expect(tasks[0]?.pool).toHaveLength(6);
		expect(tasks[0]?.poolIsEvalFile).toBe(false);
		expect(tasks[1]?.poolIsEvalFile).toBe(true);
		expect(warnings.some((w) => w.startsWith("medqa_5options:"))).toBe(true);
		await expect(load({ data: dir, tasks: ["medmcqa"] })).rejects.toMatchObject({ kind: "Data" });
	});

	test("a single file: shots from the same file (warning) or from --shots-from", async () => {
		const same = await only({ data: fx("medqa.jsonl"), shots: 1 });
		expect(same.poolIsEvalFile).toBe(true);
		expect(same.warnings).toHaveLength(1);
		const from = await only({
			data: fx("medqa.jsonl"),
			shots: 1,
			shotsFrom: join(import.meta.dirname, "..", "..", "examples", "data", "medqa-sample-train.jsonl"),
		});
		expect(from.pool).toHaveLength(6);
		expect(from.warnings).toHaveLength(0);
	});

	test("unknown formats and multi-task requests on a single-task file", async () => {
		const odd = join(tmp(), "odd.jsonl");
		await writeFile(odd, '{"foo": 1}\n');
		await expect(load({ data: odd })).rejects.toMatchObject({ kind: "Data" });
		await expect(load({ data: fx("medqa.jsonl"), tasks: ["medqa", "pubmedqa"] })).rejects.toMatchObject({ kind: "Config" });
		await expect(load({ data: join(tmp(), "missing.jsonl") })).rejects.toMatchObject({ kind: "Data" });
	});
});

test("topLevelLines finds where each member of a JSON array or object starts", () => {
	expect(topLevelLines('[\n  {"a": "x,]"},\n  {"b": [1,\n 2]}\n]')).toEqual([2, 3]);
	expect(topLevelLines('{"k1": {"q": "\\"}"}, \n"k2": 3}')).toEqual([1, 2]);
});
